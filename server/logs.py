"""Logging set up for operators: one line per record in text or JSON, and a level per logger.

Structured values go in `extra=fields(key=value, ...)`: the JSON format writes them as keys of the record's
object, the text format as `key=value` after the message. In JSON, a traceback is a string inside the
object (`"exception"`), so every record is exactly one line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

_FIELDS = "segflow_fields"


def fields(**values) -> dict:
    """The `extra=` of a log call with structured values."""
    return {_FIELDS: values}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, _FIELDS, {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        values = getattr(record, _FIELDS, None)
        if values:
            text += " " + " ".join(f"{key}={_text(value)}" for key, value in values.items())
        return text


def _text(value) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=\n') else text


def parse_levels(spec: str) -> dict[str, int]:
    """'segflow.server.history=debug,info' -> {'segflow.server.history': DEBUG, '': INFO} ('' is the root);
    raises ValueError naming a bad level."""
    levels = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, level = part.rpartition("=")
        number = logging.getLevelName(level.strip().upper())
        if not isinstance(number, int):
            raise ValueError(f"bad log level {level!r} in {spec!r} (DEBUG, INFO, WARNING, ERROR)")
        levels[name.strip()] = number
    return levels


def configure(log_format: str, levels: str, stream=None) -> None:
    """Send every record to `stream` (stderr) in `log_format` ("text" or "json") at the given levels."""
    if log_format not in ("text", "json"):
        raise ValueError(f"bad log format {log_format!r} (text or json)")
    parsed = parse_levels(levels)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(parsed.pop("", logging.INFO))
    for name, level in parsed.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(True)
