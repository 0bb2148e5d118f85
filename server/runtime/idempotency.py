"""What a session remembers of the events it processed, so a retried PostEvent fires nothing and answers as the
first time, within a bound on count and bytes: a shared store (Redis, LMDB) reads and writes the whole session on
every call, so what it remembers is paid for by every call.

The last `RESPONSES_KEPT` first responses, up to `RESPONSE_BYTES` of them, are kept whole. Older ones are kept
compact: decision, segments entered and left, event sequence, without actions, advisories or trace (marked by
`duplicate`, which a first response never has), and a retry of one says so in an advisory. At most
`EVENT_IDS_KEPT` ids, and `TOTAL_BYTES` of responses, are remembered in all, the oldest forgotten first; an id
forgotten is processed again if it comes back.
"""

from __future__ import annotations

from segflow.v1 import action_pb2, decision_service_pb2 as pb

from segflow.server.sessions.state import SessionState

RESPONSES_KEPT = 16
RESPONSE_BYTES = 32 * 1024
EVENT_IDS_KEPT = 256
TOTAL_BYTES = 64 * 1024

COMPACTED = action_pb2.Advisory(
    code="duplicate_response_compacted",
    message="this event id was processed before; its first response is kept without actions, advisories "
            f"and trace (only the last {RESPONSES_KEPT} are kept whole)")


def first_response(session: SessionState, event_id: str) -> pb.PostEventResponse | None:
    """The response `event_id` got the first time, marked `duplicate`; None if it is not remembered."""
    stored = session.processed_events.get(event_id)
    if stored is None:
        return None
    response = pb.PostEventResponse.FromString(stored)
    if response.duplicate:
        response.advisories.append(COMPACTED)
    response.duplicate = True
    return response


def remember(session: SessionState, event_id: str, response: pb.PostEventResponse) -> None:
    """Keep `response` as the first response of `event_id`; compact and forget older ones beyond the bounds."""
    kept = session.processed_events
    kept[event_id] = response.SerializeToString()
    whole = size = 0
    for older in reversed(kept):  # newest first: the whole ones, then compact ones from where the bound falls
        data = kept[older]
        if whole < RESPONSES_KEPT and size + len(data) <= RESPONSE_BYTES:
            whole, size = whole + 1, size + len(data)
            continue
        first = pb.PostEventResponse.FromString(data)
        if first.duplicate:  # compact already, and so is every older one
            break
        kept[older] = _compact(first)
    total = sum(map(len, kept.values()))
    while len(kept) > EVENT_IDS_KEPT or total > TOTAL_BYTES:
        total -= len(kept.popitem(last=False)[1])


def _compact(response: pb.PostEventResponse) -> bytes:
    return pb.PostEventResponse(decision=response.decision, segments_entered=response.segments_entered,
                                segments_left=response.segments_left, event_sequence=response.event_sequence,
                                duplicate=True).SerializeToString()
