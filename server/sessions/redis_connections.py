"""Scripts run on a Redis connection of the calling thread's own, so a call's two round trips skip the pool.

redis-py checks a connection out of its pool for every command and back in after it (a lock, a poll of the socket
and bookkeeping each way): about a third of the client's CPU per script call on the session store's hot path.
Each thread that runs a script here checks one connection out of the client's pool the first time, keeps it, and
hands it back when the thread (or this object) ends; `client.close()` still closes it. One server only: a Redis
Cluster client routes each command to its slot's node, so the store runs its scripts through it as usual.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import redis
from redis.commands.core import Script


class ThreadConnections:
    """One connection of `client`'s pool per thread that runs a script."""

    def __init__(self, client: redis.Redis):
        self._pool = client.connection_pool
        self._local = threading.local()

    def run(self, script: Script, keys: Sequence, args: Sequence, *, retry: bool = False):
        """`script`'s answer for `keys` and `args` (EVALSHA; EVAL if this Redis does not know the script yet, which
        also loads it). A lost connection is closed (the thread's next command opens it again) and the error
        raised; with `retry`, for a script that may safely run twice, it is tried once more first."""
        connection = self._connection()
        try:
            return self._evalsha(connection, script, keys, args)
        except (redis.ConnectionError, redis.TimeoutError):
            connection.disconnect()
            if not retry:
                raise
        try:
            return self._evalsha(connection, script, keys, args)
        except (redis.ConnectionError, redis.TimeoutError):
            connection.disconnect()
            raise

    def _connection(self):
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held(self._pool.get_connection())
            # back to the pool when the thread ends (its locals go) or this object does
            weakref.finalize(held, self._pool.release, held.connection)
        return held.connection

    @staticmethod
    def _evalsha(connection, script: Script, keys: Sequence, args: Sequence):
        connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return connection.read_response()
        except redis.exceptions.NoScriptError:
            connection.send_command("EVAL", script.script, len(keys), *keys, *args)
            return connection.read_response()


class _Held:
    """A thread's connection, in that thread's locals."""

    __slots__ = ("connection", "__weakref__")

    def __init__(self, connection):
        self.connection = connection
