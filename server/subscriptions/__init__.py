"""Action subscriptions: the bus that PostEvent publishes action events to, and the SubscribeActions stream.

Behaviour in one place:
- every publication gets the next global sequence number (1, 2, ...); the same action id is published again
  for each lifecycle state change;
- filter fields are ANDed, values within a field ORed, an empty field matches anything;
- `resume_after=K` replays retained matching events after K, then continues live with no duplicate and no hole;
  if events after K were already evicted, the stream starts with an ActionGap for them;
- a subscriber whose bounded queue overflows gets the events queued before the overflow, then an ActionGap
  (first_missed..last_missed), then the stream ends with SubscriberFellBehind (RESOURCE_EXHAUSTED over gRPC);
- every response's `sequence` is the resume_after value that continues the stream from there.
"""

from .bus import ActionBus
from .errors import BusClosed, InvalidSubscription, SubscriberFellBehind, SubscriptionEnded
from .service import serve_subscription
from .subscription import Subscription

__all__ = [
    "ActionBus",
    "BusClosed",
    "InvalidSubscription",
    "SubscriberFellBehind",
    "Subscription",
    "SubscriptionEnded",
    "serve_subscription",
]
