"""segflow's Python client helpers: Python values to and from `segflow.v1.Value` and attribute maps.

    from segflow.client import attributes, from_attributes, to_value
    event = session_pb2.Event(name="add_to_cart", parameters=attributes(sku="TV-55", price=650.0))
"""

from segflow.client.values import PyValue, Scalar, attributes, from_attributes, from_value, to_value

__all__ = ["PyValue", "Scalar", "attributes", "from_attributes", "from_value", "to_value"]
