"""The engine converts values with the client's helpers (segflow.client.values): one implementation on both
sides of the wire."""

from segflow.client.values import from_value, to_value, value_fields

__all__ = ["from_value", "to_value", "value_fields"]
