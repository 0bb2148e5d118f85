"""W3C Trace Context: read the caller's `traceparent` so a call joins the caller's trace."""

from __future__ import annotations

import re

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def parse(value: str) -> tuple[str, str] | None:
    """(trace id, parent span id) of a valid traceparent header, else None (the spec says: start afresh)."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, _ = match.groups()
    if version == "ff" or (version == "00" and len(value.strip()) != 55):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id


def from_metadata(metadata) -> tuple[str, str]:
    """The caller's (trace id, span id), or ("", "") without a valid traceparent."""
    for key, value in metadata or ():
        if key == "traceparent":
            return parse(value) or ("", "")
    return "", ""
