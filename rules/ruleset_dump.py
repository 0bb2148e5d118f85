"""A Ruleset message as ruleset YAML, in the friendly forms a rule author writes, so a stored version can be
shown, diffed line by line and loaded back as it is (`load_ruleset_yaml(dump_ruleset(r)).ruleset == r`)."""

from __future__ import annotations

from datetime import timezone
from typing import Any

import yaml
from google.protobuf.message import Message

from segflow.rules.ruleset_yaml import _enum_prefix, field_key
from segflow.rules.values import from_value


def dump_ruleset(ruleset: Message) -> str:
    """The ruleset as YAML: keys in field order, fields left at their defaults omitted."""
    return yaml.safe_dump(_plain(ruleset), sort_keys=False, allow_unicode=True, width=120)


def _plain(message: Message) -> Any:
    name = message.DESCRIPTOR.full_name
    if name == "segflow.v1.Value":
        value = from_value(message)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if hasattr(value, "tzinfo") \
            else value
    if name == "google.protobuf.Timestamp":
        return message.ToDatetime(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    if name == "google.protobuf.Duration":
        return f"{message.ToNanoseconds() / 1e9:.9f}".rstrip("0").rstrip(".") + "s"
    out = {}
    for fd in message.DESCRIPTOR.fields:  # declaration order, not ListFields' number order
        if fd.is_repeated:
            value = getattr(message, fd.name)
            if not len(value):
                continue
        elif fd.message_type is not None or fd.containing_oneof is not None:
            if not message.HasField(fd.name):
                continue
            value = getattr(message, fd.name)
        else:
            value = getattr(message, fd.name)
            if value == fd.default_value:
                continue
        out[field_key(fd)] = _field(fd, value)
    return out


def _field(fd, value) -> Any:
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        entry = fd.message_type.fields_by_name["value"]
        return {k: _field(entry, v) for k, v in sorted(value.items())}
    if fd.is_repeated:
        return [_scalar(fd, v) for v in value]
    return _scalar(fd, value)


def _scalar(fd, value) -> Any:
    if fd.message_type is not None:
        return _plain(value)
    if fd.enum_type is not None:
        return fd.enum_type.values_by_number[value].name.removeprefix(_enum_prefix(fd.enum_type.name)).lower()
    return value
