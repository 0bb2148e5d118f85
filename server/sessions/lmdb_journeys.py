"""Each customer's journeys in the host's LMDB file, so that every worker advances the same journeys for them.

Keys `<customer id>\\0<journey name>` in the `journeys` database hold the encoded step; one write transaction
per call keeps all of a call's changes or none. `StoredJourneyBook` (`server.sessions.journeys`) holds the
contract.
"""

from __future__ import annotations

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
            for name in _names(txn, customer.encode() + b"\0"):
                txn.delete(name)

    def _read(self, customer: str) -> dict[str, str]:
        prefix = customer.encode() + b"\0"
        with self.env.begin(db=self._db) as txn:
            return {key[len(prefix):].decode(): bytes(txn.get(key)).decode() for key in _names(txn, prefix)}

    def _store(self, session_id: str, customer: str, changed: dict[str, str], removed: set[str]) -> None:
        prefix = customer.encode() + b"\0"
        with self.env.begin(write=True, db=self._db) as txn:
            for name, value in changed.items():
                txn.put(prefix + name.encode(), value.encode())
            for name in removed:
                txn.delete(prefix + name.encode())


def _names(txn: lmdb.Transaction, prefix: bytes) -> list[bytes]:
    """The keys under `prefix`, in order (a list: the caller may delete them)."""
    cursor = txn.cursor()
    keys = []
    if cursor.set_range(prefix):
        for key in cursor.iternext(keys=True, values=False):
            if not key.startswith(prefix):
                break
            keys.append(bytes(key))
    return keys
