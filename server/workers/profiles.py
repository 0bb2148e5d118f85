"""Which customers' profiles a worker of this host last wrote to the database, and when, so that every other
worker drops its cached copy of them at once instead of serving it up to the profile cache's TTL (60 s) old.

A worker stamps the customers of each batch after the batch commits; a cached copy read (or written) before
a stamp of another worker is stale. Stamps are `time.monotonic()`, one clock for every process of the host,
and are forgotten once older than any cached copy may be.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterable

import lmdb

from segflow.server.profiles.store import CACHE_TTL, Key

_STAMP = struct.Struct(">dI")  # monotonic seconds (positive: big-endian bytes sort as the numbers), writer pid


class ProfileWrites:
    """The stamps of the host's LMDB environment, as seen by this process."""

    def __init__(self, env: lmdb.Environment, keep: float = CACHE_TTL):
        self.env = env
        self._at = env.open_db(b"profiles.written")  # customer -> stamp
        self._by_time = env.open_db(b"profiles.by_time")  # stamp + customer -> nothing: the oldest first
        self._keep = keep
        self._pid = os.getpid()

    def wrote(self, keys: Iterable[Key]) -> None:
        """Stamp customers whose rows this process has just committed, and forget stamps past `keep`."""
        now = time.monotonic()
        stamp = _STAMP.pack(now, self._pid)
        with self.env.begin(write=True) as txn:
            for key in keys:
                customer = _customer(key)
                old = txn.get(customer, db=self._at)
                if old is not None:
                    txn.delete(old + customer, db=self._by_time)
                txn.put(customer, stamp, db=self._at)
                txn.put(stamp + customer, b"", db=self._by_time)
            cursor, cutoff = txn.cursor(db=self._by_time), struct.pack(">d", now - self._keep)
            while cursor.first() and cursor.key()[:8] < cutoff:
                txn.delete(cursor.key()[_STAMP.size:], db=self._at)
                cursor.delete()

    def changed_since(self, key: Key, moment: float) -> bool:
        """Whether another process wrote the customer's row at or after `moment` (a `time.monotonic()`)."""
        with self.env.begin(db=self._at) as txn:
            stamp = txn.get(_customer(key))
        if stamp is None:
            return False
        at, pid = _STAMP.unpack(stamp)
        return at >= moment and pid != self._pid


def _customer(key: Key) -> bytes:
    return "\0".join(key).encode()
