"""A stored profile as the `CustomerProfile` message GetProfile returns."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from segflow.v1 import decision_service_pb2 as pb

from segflow.rules.values import to_value
from segflow.server.profiles.memory import CustomerMemory

_UTC = timezone.utc


def profile_message(memory: CustomerMemory, updated_at: datetime | None,
                    patterns_met: Iterable[str]) -> pb.CustomerProfile:
    """Attributes, event totals over the remembered days, the patterns met now and offer memory of one
    customer."""
    profile = pb.CustomerProfile(audience_level=memory.audience_level, customer_id=memory.customer_id,
                                 attributes={k: to_value(v) for k, v in memory.attributes.items()},
                                 patterns_met=sorted(patterns_met))
    for event, days in sorted(memory.counters.items()):
        remembered = profile.events.add(event_name=event, count=sum(b[0] for b in days.values()))
        if days:
            remembered.first_time.FromDatetime(datetime.fromtimestamp(min(b[1] for b in days.values()), _UTC))
            remembered.last_time.FromDatetime(datetime.fromtimestamp(max(b[2] for b in days.values()), _UTC))
    for code, offer in sorted(memory.offers.items()):
        remembered = profile.offers.add(offer_code=code, presentations=sum(offer.get("contacts", {}).values()))
        response = memory.last_response(code)
        if response is not None:
            remembered.last_response_at.FromDatetime(response[0])
            remembered.last_response_accepted = response[1]
    if updated_at is not None:
        profile.updated_at.FromDatetime(updated_at)
    return profile
