"""Each customer's journeys in the host's LMDB file, so that every worker advances the same journeys for them.

Keys `<customer id>\\0<journey name>` in the `journeys` database hold the encoded step; one write transaction
per call keeps all of a call's changes or none. `StoredJourneyBook` (`server.sessions.journeys`) holds the
contract.
"""

from __future__ import annotations

from collections.abc import Iterator

import lmdb

from segflow.server.sessions.journeys import StoredJourneyBook


class LmdbJourneyBook(StoredJourneyBook):
    """Journeys per customer shared by every process that opens the same LMDB environment."""

    def __init__(self, env: lmdb.Environment):
        super().__init__()
        self.env = env
        self._db = env.open_db(b"journeys")

    def forget(self, customer: str) -> None:
        with self.env.begin(write=True, db=self._db) as txn:
            for key in [key for key, _ in _entries(txn, customer.encode() + b"\0")]:  # listed, then deleted
                txn.delete(key)

    def _read(self, customer: str) -> dict[str, str]:
        prefix = customer.encode() + b"\0"
        with self.env.begin(db=self._db) as txn:
            return {key[len(prefix):].decode(): value.decode() for key, value in _entries(txn, prefix)}

    def _store(self, session_id: str, customer: str, changed: dict[str, str], removed: set[str]) -> None:
        prefix = customer.encode() + b"\0"
        with self.env.begin(write=True, db=self._db) as txn:
            for name, value in changed.items():
                txn.put(prefix + name.encode(), value.encode())
            for name in removed:
                txn.delete(prefix + name.encode())


def _entries(txn: lmdb.Transaction, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The (key, value) pairs under `prefix`, in key order."""
    cursor = txn.cursor()
    if cursor.set_range(prefix):
        for key, value in cursor:
            if not key.startswith(prefix):
                return
            yield key, value
