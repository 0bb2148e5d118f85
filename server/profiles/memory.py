"""What segflow remembers of one customer across visits: profile attributes, event counters and offer
contacts/responses, in a JSON-ready form the session, the codec and the database share.

Counters are kept in three tiers of time buckets (UTC), each bounded by age: minutes for the last 180
minutes, hours for the last 168 hours, days for the last 400 days. A window reads the finest tier that
reaches back far enough, so it is precise to a minute up to 3 hours, to an hour up to 7 days, to a day
beyond, and a check reads a bounded number of buckets however long the customer's history. A window of
W covers the current bucket and the ones before it, ceil(W / bucket) in all. Everything here is plain data
(str bucket keys, epoch seconds), so storing it is one `json.dumps` and reading it back one `json.loads`.

Writing back is by deltas: a live memory keeps `unsaved`, a memory of only what changed since it was last
written (counts added, contacts added, the latest response, attributes changed with the time they changed),
and the store merges each delta into the stored profile (`merge`): counts add up, so two visits of one
customer at once are both counted, and each attribute keeps the value written last (its `stamps`).

Precedence when an anonymous visit is identified: the visit's delta is merged into the customer's stored
memory the same way: what the visit changed is newer than what is stored, so it wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

DAY = 86_400
# (bucket seconds, buckets kept, document key), finest first: the tiers every remembered event is counted in.
TIERS = ((60, 180, "minutes"), (3600, 168, "hours"), (DAY, 400, "counters"))
DAYS = len(TIERS) - 1  # the daily tier (fixed date ranges, GetProfile's totals)
MAX_DAYS = TIERS[DAYS][1]
MAX_WINDOW_SECONDS = DAY * MAX_DAYS
_UTC = timezone.utc
_MISSING = object()


def day_of(moment: datetime) -> int:
    """The UTC day number (days since the epoch) of an aware datetime."""
    return int(moment.timestamp() // DAY)


def span(window_seconds: int, now: datetime) -> tuple[int, int, int]:
    """(tier, first bucket, last bucket) a window of `window_seconds` ending `now` reads: the finest tier
    that keeps enough buckets, its current bucket and the ones before, ceil(window / bucket) in all."""
    stamp = now.timestamp()
    for tier, (size, kept, _) in enumerate(TIERS):
        if window_seconds <= size * kept:
            last = int(stamp // size)
            return tier, last - -(-window_seconds // size) + 1, last
    raise ValueError(f"a window of {window_seconds}s is longer than the {MAX_DAYS} days remembered")


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type: 1, 1.0 and True are different profile values."""
    return type(a) is type(b) and a == b


# What a change replaced, for `CustomerMemory.undo`: (dict, key, the value before or _MISSING), or (memory,
# attribute name, the value before).
Undo = list[tuple[Any, str, Any]]


def _put(container: dict, key: str, value: Any, undo: Undo | None) -> None:
    if undo is not None:
        undo.append((container, key, container.get(key, _MISSING)))
    container[key] = value


def _child(container: dict, key: str, undo: Undo | None) -> dict:
    """container[key], a dict, made (empty) if missing."""
    child = container.get(key)
    if child is None:
        child = {}
        _put(container, key, child, undo)
    return child


def _trim(buckets: dict, newest: int, kept: int, undo: Undo | None) -> None:
    """Drop the buckets older than the `kept` ending at `newest`, once there are more than `kept` (then at
    least one is that old): so the scan is paid once per bucket past the bound, not per event."""
    if len(buckets) > kept:
        for key in [key for key in buckets if int(key) <= newest - kept]:
            if undo is not None:
                undo.append((buckets, key, buckets[key]))
            del buckets[key]


def _add_bucket(buckets: dict, key: str, count: int, first: float, last: float, sums: Mapping[str, Any],
                undo: Undo | None) -> None:
    """Add to a bucket: as a new list, so the one `undo` keeps stays as it was."""
    bucket = buckets.get(key)
    if bucket is None:
        _put(buckets, key, [count, first, last, dict(sums)], undo)
        return
    totals = dict(bucket[3])
    for param, total in sums.items():
        totals[param] = totals.get(param, 0) + total
    _put(buckets, key, [bucket[0] + count, min(bucket[1], first), max(bucket[2], last), totals], undo)


@dataclass(slots=True)
class CustomerMemory:
    """One customer's memory (or an anonymous visit's, with an empty `customer_id`).

    `tiers`: one dict per TIERS entry, event -> bucket -> [count, first epoch, last epoch, {parameter: sum}]
    (a delta keeps only minutes, unbounded: it lives one call, or one anonymous visit).
    `offers`: offer code -> {"contacts": {day: n}, "response": [epoch, accepted]}. `stamps`: attribute ->
    epoch of its last change. `generation`: the customer's erasure count when this memory was loaded (a
    delta of an older generation is never written: `store`). `unsaved`: the delta not yet written (None in
    a stored memory or a delta). `_undo`: while a call that may fail changes the memory (`record`), what each
    change replaced, so that `undo` puts it back: cheaper than a copy taken before every call, which costs as
    much as the customer's history is long.
    """

    audience_level: str = ""
    customer_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    tiers: list[dict[str, dict[str, list]]] = field(default_factory=lambda: [{} for _ in TIERS])
    offers: dict[str, dict] = field(default_factory=dict)
    stamps: dict[str, float] = field(default_factory=dict)
    generation: int = 0
    unsaved: CustomerMemory | None = None
    _undo: Undo | None = field(default=None, compare=False, repr=False)

    @classmethod
    def live(cls, level: str = "", customer_id: str = "", attributes: dict[str, Any] | None = None,
             generation: int = 0) -> CustomerMemory:
        """A memory a session works on: it keeps the delta of its changes."""
        return cls(level, customer_id, attributes or {}, generation=generation,
                   unsaved=cls(level, customer_id, generation=generation))

    def _changes(self) -> tuple[CustomerMemory, ...]:
        return (self,) if self.unsaved is None else (self, self.unsaved)

    # -- a call's changes, undone if it fails ------------------------------------------------------
    def record(self) -> None:
        """From now on keep what each change (of the memory and of its delta) replaces, until `undo` or
        `settle`."""
        self._undo = []
        if self.unsaved is not None:
            self.unsaved._undo = self._undo

    def undo(self) -> None:
        """Put the memory (and its delta) back as they were at `record`."""
        undo, self._undo = self._undo or [], None
        for container, key, before in reversed(undo):
            if type(container) is CustomerMemory:
                setattr(container, key, before)
            elif before is _MISSING:
                del container[key]
            else:
                container[key] = before
        if self.unsaved is not None:
            self.unsaved._undo = None

    def settle(self) -> None:
        """Keep the changes made since `record`: stop recording."""
        self._undo = None
        if self.unsaved is not None:
            self.unsaved._undo = None

    # -- events ------------------------------------------------------------------------------------
    def count(self, event: str, when: datetime, params: Mapping[str, Any]) -> None:
        """Add one occurrence of `event` at `when` to every tier (to the minutes only in the delta, which
        `merge` rolls up), summing its numeric parameters."""
        stamp = when.timestamp()
        sums = {name: value for name, value in params.items() if type(value) in (int, float)}
        undo = self._undo
        for (size, kept, _), tier in zip(TIERS, self.tiers):
            buckets = _child(tier, event, undo)
            index = int(stamp // size)
            _add_bucket(buckets, str(index), 1, stamp, stamp, sums, undo)
            _trim(buckets, index, kept, undo)
        if self.unsaved is not None:
            _add_bucket(_child(self.unsaved.tiers[0], event, undo), str(int(stamp // TIERS[0][0])), 1, stamp,
                        stamp, sums, undo)

    def buckets(self, event: str, tier: int, first: int, last: int) -> Iterable[list]:
        """The buckets of `event` in `tier` from `first` to `last` (inclusive)."""
        for key, bucket in self.tiers[tier].get(event, {}).items():
            if first <= int(key) <= last:
                yield bucket

    def event_count(self, event: str, tier: int, first: int, last: int) -> int:
        return sum(bucket[0] for bucket in self.buckets(event, tier, first, last))

    def event_sum(self, event: str, param: str, tier: int, first: int, last: int) -> float | int | None:
        """SUM of a numeric parameter: NULL when the event never carried it in the range (as SQL's SUM)."""
        sums = [bucket[3][param] for bucket in self.buckets(event, tier, first, last) if param in bucket[3]]
        return sum(sums) if sums else None

    def event_time(self, event: str, tier: int, first: int, last: int, latest: bool) -> datetime | None:
        """The first (or latest) time of `event` in the range, NULL when it did not happen."""
        stamps = [bucket[2 if latest else 1] for bucket in self.buckets(event, tier, first, last)]
        if not stamps:
            return None
        return datetime.fromtimestamp(max(stamps) if latest else min(stamps), _UTC)

    @property
    def counters(self) -> dict[str, dict[str, list]]:
        """The daily buckets by event."""
        return self.tiers[DAYS]

    # -- offers ------------------------------------------------------------------------------------
    def contact(self, offer: str, when: datetime) -> None:
        day, undo = day_of(when), self._undo
        for memory in self._changes():
            contacts = _child(_child(memory.offers, offer, undo), "contacts", undo)
            key = str(day)
            _put(contacts, key, contacts.get(key, 0) + 1, undo)
            _trim(contacts, day, MAX_DAYS, undo)

    def respond(self, offer: str, when: datetime, accepted: bool) -> None:
        for memory in self._changes():
            _put(_child(memory.offers, offer, self._undo), "response", [when.timestamp(), accepted], self._undo)

    def contacts(self, offer: str, first_day: int) -> int:
        """Contacts of `offer` logged from `first_day` on."""
        return sum(n for key, n in self.offers.get(offer, {}).get("contacts", {}).items() if int(key) >= first_day)

    def last_response(self, offer: str) -> tuple[datetime, bool] | None:
        response = self.offers.get(offer, {}).get("response")
        return None if response is None else (datetime.fromtimestamp(response[0], _UTC), response[1])

    # -- profile attributes ------------------------------------------------------------------------
    def sync(self, values: Mapping[str, Any], names: Iterable[str], now: datetime) -> None:
        """Take the current values of the profile attributes `names`; those that differ changed at `now`."""
        stamp = now.timestamp()
        for name in names:
            value = values.get(name)
            if not _same(self.attributes.get(name, _MISSING), value):
                for memory in self._changes():
                    _put(memory.attributes, name, value, self._undo)
                    _put(memory.stamps, name, stamp, self._undo)

    # -- deltas --------------------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return not (self.attributes or self.offers or any(self.tiers))

    def take_unsaved(self) -> CustomerMemory | None:
        """The delta since the last call of this (None when nothing changed), starting a new one."""
        delta = self.unsaved
        if delta is None or delta.empty:
            return None
        if self._undo is not None:
            self._undo.append((self, "unsaved", delta))
        self.unsaved = CustomerMemory(self.audience_level, self.customer_id, generation=self.generation)
        return delta

    def merge(self, delta: CustomerMemory) -> None:
        """Fold a delta (another visit's changes, its counts in minute buckets) into this memory, rolling the
        minutes up into every tier; see the module doc."""
        undo = self._undo
        for name, value in delta.attributes.items():
            stamp = delta.stamps.get(name, 0.0)
            if stamp >= self.stamps.get(name, float("-inf")):
                _put(self.attributes, name, value, undo)
                _put(self.stamps, name, stamp, undo)
        minute = TIERS[0][0]
        for event, buckets in delta.tiers[0].items():
            for (size, kept, _), tier in zip(TIERS, self.tiers):
                into = _child(tier, event, undo)
                for key, (count, first, last, sums) in buckets.items():
                    _add_bucket(into, str(int(key) * minute // size), count, first, last, sums, undo)
                if len(into) > kept:
                    _trim(into, max(map(int, into)), kept, undo)
        for offer, memory in delta.offers.items():
            mine = _child(self.offers, offer, undo)
            contacts = _child(mine, "contacts", undo)
            for key, n in memory.get("contacts", {}).items():
                _put(contacts, key, contacts.get(key, 0) + n, undo)
            if len(contacts) > MAX_DAYS:
                _trim(contacts, max(map(int, contacts)), MAX_DAYS, undo)
            response = memory.get("response")
            if response is not None and response[0] >= mine.get("response", [float("-inf")])[0]:
                _put(mine, "response", response, undo)

    def copy(self) -> CustomerMemory:
        """A copy sharing nothing that changes in place (cheaper than deepcopy: the shapes are known)."""
        return CustomerMemory(
            self.audience_level, self.customer_id, dict(self.attributes),
            [{event: {key: [b[0], b[1], b[2], dict(b[3])] for key, b in buckets.items()}
              for event, buckets in tier.items()} for tier in self.tiers],
            {code: {key: dict(v) if type(v) is dict else list(v) for key, v in offer.items()}
             for code, offer in self.offers.items()},
            dict(self.stamps), self.generation, None if self.unsaved is None else self.unsaved.copy())

    # -- storage -----------------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        """What is stored besides the attributes: counters, offers and attribute stamps (JSON-ready)."""
        return {**{name: tier for (_, _, name), tier in zip(TIERS, self.tiers)}, "offers": self.offers,
                "stamps": self.stamps}

    def to_json(self) -> dict[str, Any]:
        """The whole memory for the session codec and the profile writer (attribute values may hold
        datetimes)."""
        return {"level": self.audience_level, "id": self.customer_id, "attributes": self.attributes,
                "generation": self.generation, **self.document(),
                "unsaved": None if self.unsaved is None else self.unsaved.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CustomerMemory:
        """A session's (live) memory as `to_json` wrote it."""
        level, customer, generation = data["level"], data["id"], data.get("generation", 0)
        unsaved = data.get("unsaved")
        delta = cls(level, customer, generation=generation) if unsaved is None else \
            cls.stored(level, customer, dict(unsaved["attributes"]), unsaved, generation)
        return cls.stored(level, customer, dict(data["attributes"]), data, generation, delta)

    @classmethod
    def stored(cls, level: str, customer_id: str, attributes: dict[str, Any], document: Mapping[str, Any],
               generation: int = 0, unsaved: CustomerMemory | None = None) -> CustomerMemory:
        """A memory as the profile store read it."""
        return cls(level, customer_id, attributes, [dict(document.get(name) or {}) for _, _, name in TIERS],
                   dict(document.get("offers") or {}), dict(document.get("stamps") or {}), generation, unsaved)
