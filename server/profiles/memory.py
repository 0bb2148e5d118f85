"""What segflow remembers of one customer across visits: profile attributes, daily event counters, met
patterns and offer contacts/responses, in a JSON-ready form the session, the codec and the database share.

Counters are kept in daily buckets (UTC days), at most `MAX_DAYS` per event, so a windowed count reads a
bounded number of buckets however long the customer's history. A window of D days covers today and the
D-1 days before it. Everything here is plain data (str day keys, epoch seconds), so storing it is one
`json.dumps` and reading it back is one `json.loads`.

Precedence when an anonymous visit is identified (`merge_visit`): a profile attribute the visit changed keeps
the visit's value; otherwise the stored profile's value wins, then the profile source's, then the default.
Counters, contacts and met patterns of the visit are added to the customer's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

DAY = 86_400.0
MAX_DAYS = 400  # daily buckets kept per event and per offer: a window reaches at most this far back
_UTC = timezone.utc
_MISSING = object()


def day_of(moment: datetime) -> int:
    """The UTC day number (days since the epoch) of an aware datetime."""
    return int(moment.timestamp() // DAY)


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type: 1, 1.0 and True are different profile values."""
    return type(a) is type(b) and a == b


@dataclass(slots=True)
class CustomerMemory:
    """One customer's memory (or an anonymous visit's, with an empty `customer_id`).

    `counters`: event -> day -> [count, first epoch, last epoch, {numeric parameter: sum}].
    `offers`: offer code -> {"contacts": {day: n}, "response": [epoch, accepted]}.
    `patterns`: met pattern -> epoch when it became met. `changed`: profile attributes this visit set.
    """

    audience_level: str = ""
    customer_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, dict[str, list]] = field(default_factory=dict)
    patterns: dict[str, float] = field(default_factory=dict)
    offers: dict[str, dict] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    dirty: bool = False

    # -- events ------------------------------------------------------------------------------------
    def count(self, event: str, when: datetime, params: Mapping[str, Any]) -> None:
        """Add one occurrence of `event` at `when`, summing its numeric parameters."""
        stamp = when.timestamp()
        days = self.counters.get(event)
        if days is None:
            days = self.counters[event] = {}
        key = str(int(stamp // DAY))
        bucket = days.get(key)
        if bucket is None:
            bucket = days[key] = [0, stamp, stamp, {}]
            if len(days) > MAX_DAYS:
                del days[min(days, key=int)]
        bucket[0] += 1
        bucket[1] = min(bucket[1], stamp)
        bucket[2] = max(bucket[2], stamp)
        sums = bucket[3]
        for name, value in params.items():
            if type(value) in (int, float):
                sums[name] = sums.get(name, 0) + value
        self.dirty = True

    def buckets(self, event: str, first_day: int, last_day: int) -> Iterable[list]:
        """The buckets of `event` from `first_day` to `last_day` (inclusive)."""
        for key, bucket in self.counters.get(event, {}).items():
            if first_day <= int(key) <= last_day:
                yield bucket

    def event_count(self, event: str, first_day: int, last_day: int) -> int:
        return sum(bucket[0] for bucket in self.buckets(event, first_day, last_day))

    def event_sum(self, event: str, param: str, first_day: int, last_day: int) -> float | int | None:
        """SUM of a numeric parameter: NULL when the event never carried it in the range (as SQL's SUM)."""
        sums = [bucket[3][param] for bucket in self.buckets(event, first_day, last_day) if param in bucket[3]]
        return sum(sums) if sums else None

    def event_time(self, event: str, first_day: int, last_day: int, last: bool) -> datetime | None:
        """The first (or last) time of `event` in the range, NULL when it did not happen."""
        stamps = [bucket[2 if last else 1] for bucket in self.buckets(event, first_day, last_day)]
        if not stamps:
            return None
        return datetime.fromtimestamp(max(stamps) if last else min(stamps), _UTC)

    # -- offers ------------------------------------------------------------------------------------
    def contact(self, offer: str, when: datetime) -> None:
        contacts = self.offers.setdefault(offer, {}).setdefault("contacts", {})
        key = str(day_of(when))
        contacts[key] = contacts.get(key, 0) + 1
        if len(contacts) > MAX_DAYS:
            del contacts[min(contacts, key=int)]
        self.dirty = True

    def respond(self, offer: str, when: datetime, accepted: bool) -> None:
        self.offers.setdefault(offer, {})["response"] = [when.timestamp(), accepted]
        self.dirty = True

    def contacts(self, offer: str, first_day: int) -> int:
        """Contacts of `offer` logged from `first_day` on."""
        return sum(n for key, n in self.offers.get(offer, {}).get("contacts", {}).items() if int(key) >= first_day)

    def last_response(self, offer: str) -> tuple[datetime, bool] | None:
        response = self.offers.get(offer, {}).get("response")
        return None if response is None else (datetime.fromtimestamp(response[0], _UTC), response[1])

    # -- profile attributes ------------------------------------------------------------------------
    def sync(self, values: Mapping[str, Any], names: Iterable[str]) -> None:
        """Take the current values of the profile attributes `names`; those that differ count as changed."""
        for name in names:
            value = values.get(name)
            if not _same(self.attributes.get(name, _MISSING), value):
                self.attributes[name] = value
                self.changed.add(name)
                self.dirty = True

    # -- identification ----------------------------------------------------------------------------
    def merge_visit(self, visit: CustomerMemory) -> None:
        """Fold an anonymous visit's memory into this (the customer's stored) memory; see the module doc."""
        for name in visit.changed:
            self.attributes[name] = visit.attributes.get(name)
        for event, days in visit.counters.items():
            mine = self.counters.setdefault(event, {})
            for key, (count, first, last, sums) in days.items():
                bucket = mine.setdefault(key, [0, first, last, {}])
                bucket[0] += count
                bucket[1], bucket[2] = min(bucket[1], first), max(bucket[2], last)
                for param, total in sums.items():
                    bucket[3][param] = bucket[3].get(param, 0) + total
        for offer, memory in visit.offers.items():
            mine = self.offers.setdefault(offer, {})
            contacts = mine.setdefault("contacts", {})
            for key, n in memory.get("contacts", {}).items():
                contacts[key] = contacts.get(key, 0) + n
            response = memory.get("response")
            if response is not None and response[0] >= mine.get("response", [float("-inf")])[0]:
                mine["response"] = response
        for name, since in visit.patterns.items():
            self.patterns.setdefault(name, since)
        self.changed |= visit.changed
        self.dirty = self.dirty or visit.dirty

    def copy(self) -> CustomerMemory:
        """A copy sharing nothing that changes in place (cheaper than deepcopy: the shapes are known)."""
        return CustomerMemory(
            self.audience_level, self.customer_id, dict(self.attributes),
            {event: {day: [b[0], b[1], b[2], dict(b[3])] for day, b in days.items()}
             for event, days in self.counters.items()},
            dict(self.patterns),
            {code: {key: dict(v) if type(v) is dict else list(v) for key, v in offer.items()}
             for code, offer in self.offers.items()},
            set(self.changed), self.dirty)

    # -- storage -----------------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        """What is stored besides the attributes: counters, patterns and offers (JSON-ready)."""
        return {"counters": self.counters, "patterns": self.patterns, "offers": self.offers}

    def to_json(self) -> dict[str, Any]:
        """The whole memory for the session codec (attribute values may hold datetimes)."""
        return {"level": self.audience_level, "id": self.customer_id, "attributes": self.attributes,
                "changed": sorted(self.changed), "dirty": self.dirty, **self.document()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CustomerMemory:
        return cls(data["level"], data["id"], dict(data["attributes"]), data["counters"], data["patterns"],
                   data["offers"], set(data["changed"]), data["dirty"])

    @classmethod
    def stored(cls, level: str, customer_id: str, attributes: dict[str, Any],
               document: Mapping[str, Any]) -> CustomerMemory:
        """A memory as the profile store read it."""
        return cls(level, customer_id, attributes, document.get("counters", {}), document.get("patterns", {}),
                   document.get("offers", {}))
