"""Every replica's actions in one Redis Stream, so a subscriber on any replica sees all of them in one order, with
one sequence, and resumes on any replica after a disconnect or a restart.

Keys, under the session store's prefix, share the hash tag `{shared}` (one slot of a Redis Cluster, with the
store's index of live sessions):
- `{shared}:actions`: the stream; each entry holds one call's actions: `n`, the sequence number of its first
  action (the others follow it), and `a`, the encoded Actions (`encode_actions`: a MessagePack array of each
  Action's protobuf bytes), so a call costs one XADD however many actions it fired; it is trimmed to about
  `retention` entries (so at least as many actions are kept) and to those younger than `max_age_ms` (stream ids
  are Redis's clock);
- `{shared}:sequence`: the last sequence number given out.
`APPEND_FUNCTION` appends a call's actions, numbered by the counter: the session store runs it in the script
that commits the session (`server.sessions.redis_store`; on a Cluster in the script that updates its index
after the commit), so a call's actions enter the log in the round trip of its session write, and only if that
write committed. Each replica keeps an `ActionBus` fed only from the stream, with
the stream's numbers: while it has subscribers a thread waits on XREAD for new entries, and `subscribe` first
reads up to the stream's head, so resume and gap semantics are the bus's own (`server.subscriptions`) over the
cluster's sequence. A replica with no subscribers reads nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence

import msgpack
import redis
from segflow.v1 import decision_service_pb2

from segflow.server.errors import Unavailable

from .bus import ActionBus
from .subscription import Subscription

log = logging.getLogger(__name__)

# Lua for scripts: append one call's actions (ARGV[at]: how many, ARGV[at + 1]: `encode_actions`' bytes) to the
# stream `log_key` as one entry, numbered by `count_key`, then trim it; max_len and max_age_ms are numbers
# (max_age_ms 0: no age limit). Approximate trimming (~) drops whole stream nodes, so a few more entries than
# asked may stay. A call with no actions (none, or no ARGV[at]) appends nothing.
APPEND_FUNCTION = """
local function append_actions(log_key, count_key, max_len, max_age_ms, at)
  local count = tonumber(ARGV[at]) or 0
  if count == 0 then return end
  local first = redis.call('INCRBY', count_key, count) - count + 1
  redis.call('XADD', log_key, 'MAXLEN', '~', max_len, '*', 'n', first, 'a', ARGV[at + 1])
  if max_age_ms > 0 then
    local now = redis.call('TIME')
    local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - max_age_ms
    if cutoff > 0 then redis.call('XTRIM', log_key, 'MINID', '~', cutoff) end
  end
end
"""

# KEYS: log, count. ARGV: max length, max age in ms, then `encode_actions`'. Returns the last sequence number.
_APPEND = APPEND_FUNCTION + """
append_actions(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), 3)
return tonumber(redis.call('GET', KEYS[2]) or 0)
"""

# What a command to Redis can raise: its errors, and a Cluster client's when none of its nodes can be reached
# (RedisClusterException is not a RedisError).
_FAILED = (redis.RedisError, redis.exceptions.RedisClusterException)

# How long a follower's XREAD waits for new entries before it looks again whether it still has subscribers
# or was closed; also the bound on how long close() takes.
BLOCK_MS = 200
# Entries read per XREAD / XRANGE.
BATCH = 1_000


class RedisActionLog:
    """An `ActionBus` for one replica whose events come from, and go to, the stream every replica shares.

    `retention`: entries kept in the stream (and in each replica's bus, for resuming); `max_age_ms`: entries
    older than this are trimmed (0: only by count); `queue_size`: bounds each subscriber's queue.
    """

    def __init__(self, client: redis.Redis | redis.RedisCluster, *, prefix: str = "segflow:",
                 retention: int = 10_000, max_age_ms: int = 0, queue_size: int = 1_000):
        self.client = client
        self.keys = log_keys(prefix)
        self.retention = max(retention, 1)
        self.max_age_ms = max(int(max_age_ms), 0)
        self._append = client.register_script(_APPEND)
        self._queue_size = queue_size
        self._local = ActionBus(retention=retention, queue_size=queue_size)
        self._reading = threading.Lock()
        self._read: bytes | None = None  # the stream id of the last entry handed to the local bus, once read
        self._wanted = threading.Event()  # set while there may be subscribers to feed
        self._closed = threading.Event()
        self._follower = threading.Thread(target=self._follow, name="segflow-action-stream", daemon=True)
        self._follower.start()

    @property
    def trim_args(self) -> list[int]:
        """The trimming arguments of `APPEND_FUNCTION` (max length, max age in ms)."""
        return [self.retention, self.max_age_ms]

    @property
    def last_sequence(self) -> int:
        """The sequence number of the latest action any replica appended (0 before the first)."""
        return int(self.client.get(self.keys[1]) or 0)

    def publish_all(self, actions: Sequence[bytes]) -> None:
        """Append one call's actions (encoded) in one round trip (the session store appends them with its
        commit instead)."""
        if actions:
            self._append(keys=self.keys, args=[*self.trim_args, *encode_actions(actions)])

    def subscribe(self, request: decision_service_pb2.SubscribeActionsRequest) -> Subscription:
        """A live subscription, as `ActionBus.subscribe`, over the cluster's sequence; Unavailable while Redis
        cannot be reached."""
        try:
            self._catch_up()
        except _FAILED as error:
            raise Unavailable(f"the action stream is unreachable: {error}", reason="ACTION_LOG_UNAVAILABLE") from error
        subscription = self._local.subscribe(request)
        self._wanted.set()
        return subscription

    def stats(self) -> dict[str, int]:
        """The bus's counters, with `published` every replica's."""
        return {**self._local.stats(), "published": self.last_sequence}

    def close(self) -> None:
        self._closed.set()
        self._wanted.set()
        self._follower.join(timeout=5)
        try:
            self._catch_up()  # what was appended before the close reaches the subscribers still draining
        except _FAILED as error:
            log.warning("action stream: could not read its last entries on close: %s", error)
        self._local.close()

    def _follow(self) -> None:
        while not self._closed.is_set():
            if not self._local.stats()["subscribers"]:
                self._wanted.clear()
                self._wanted.wait()
                continue
            try:
                if self._read is None:
                    self._catch_up()
                    continue
                answer = self.client.xread({self.keys[0]: self._read}, count=BATCH, block=BLOCK_MS)
                if answer:
                    with self._reading:
                        self._hand_over(answer[0][1] if isinstance(answer, list) else answer[self.keys[0]][0])
            except _FAILED as error:
                log.warning("action stream unreadable, retrying: %s", error)
                self._closed.wait(0.5)

    def _catch_up(self) -> None:
        """Hand the local bus every entry after the last one read, in order; a replica that has read none yet
        starts with the last `retention` (those trimmed meanwhile are gone: the bus reports the gap)."""
        with self._reading:
            if self._read is None:
                newest_first = self.client.xrevrange(self.keys[0], count=self.retention)
                self._read = b"0-0"
                self._hand_over(reversed(newest_first))
            while entries := self.client.xrange(self.keys[0], min=b"(" + self._read, count=BATCH):
                self._hand_over(entries)

    def _hand_over(self, entries: Iterable[tuple[bytes, dict]]) -> None:
        """Publish stream entries to the local bus with their own numbers and times, under `_reading`.

        Entries at or before the last one read (a follower's XREAD racing a subscriber's catch-up) are skipped;
        numbers skipped (trimmed before this replica read them) are missed: live subscribers get the gap.
        A newer entry whose number is not beyond the bus's means the log started over (Redis lost it): the
        bus's subscribers end as on shutdown (UNAVAILABLE, then a resume beyond the new log is refused) and a
        new bus follows the new log.
        """
        for entry_id, fields in entries:
            entry_id = _raw(entry_id)
            if _order(entry_id) <= _order(self._read):
                continue
            sequence, head = int(fields[b"n"]), self._local.last_sequence
            if sequence <= head:
                log.warning("the action stream started over at %d (Redis lost it); subscribers must resubscribe",
                            sequence)
                self._local.close()
                self._local = ActionBus(retention=self.retention, queue_size=self._queue_size)
            elif sequence > head + 1:  # trimmed before this replica read them
                self._local.missed(head + 1, sequence - 1)
            at = _order(entry_id)[0] * 1_000_000
            for offset, action in enumerate(msgpack.unpackb(fields[b"a"])):
                self._local.publish_encoded(action, sequence=sequence + offset, at=at)
            self._read = entry_id


def encode_actions(actions: Sequence[bytes]) -> list:
    """`APPEND_FUNCTION`'s arguments for one call's actions (encoded): how many, and them in one stream entry."""
    return [len(actions), msgpack.packb(list(actions))]


def log_keys(prefix: str) -> list[str]:
    """The stream and its counter under `prefix`, in the slot of the hash tag `{shared}`."""
    return [f"{prefix}{{shared}}:actions", f"{prefix}{{shared}}:sequence"]


def _raw(entry_id: bytes | str) -> bytes:
    return entry_id if isinstance(entry_id, bytes) else entry_id.encode()


def _order(entry_id: bytes) -> tuple[int, int]:
    """A stream id ("<ms>-<n>") as a sortable pair."""
    ms, _, n = entry_id.partition(b"-")
    return int(ms), int(n)
