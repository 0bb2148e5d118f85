"""What segflow remembers of one customer across visits: profile attributes, event counters and offer
contacts/responses, in a JSON-ready form the session, the codec and the database share.

Counters are kept in three tiers of time buckets (UTC), each bounded by age: minutes for the last 180
minutes, hours for the last 168 hours, days for the last 400 days. A window reads the finest tier that
reaches back far enough, so it is precise to a minute up to 3 hours, to an hour up to 7 days, to a day
beyond, and a check reads a bounded number of buckets however long the customer's history. A window of
W covers the current bucket and the ones before it, ceil(W / bucket) in all. Everything here is plain data
(str bucket keys, epoch seconds), so storing it is one `json.dumps` and reading it back one `json.loads`.

Counting is lazy: `count` keeps the occurrence aside, and the tiers take it (`_fold`) when something reads them,
copies or stores them, or at the start of the memory's next call, in the order counted, so every sum, bound and
bucket comes out exactly as if each occurrence had been added at once. A PostEvent whose rules read nothing of
the customer's counters pays one append for each event it remembers.

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
assert len(TIERS) == 3, "CustomerMemory._tiers starts with one dict per tier"
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
    """Add to a bucket: in place, or while a call records (`undo`) as a new list, so the one `undo` keeps stays
    as it was. No bucket list is shared between memories (each is made here or by `copy`), so in place is safe."""
    bucket = buckets.get(key)
    if bucket is None:
        _put(buckets, key, [count, first, last, dict(sums)], undo)
        return
    if undo is not None:
        undo.append((buckets, key, bucket))
        bucket = buckets[key] = [bucket[0], bucket[1], bucket[2], dict(bucket[3])]
    bucket[0] += count
    if first < bucket[1]:  # min() and max(), without their calls
        bucket[1] = first
    if last > bucket[2]:
        bucket[2] = last
    totals = bucket[3]
    for param, total in sums.items():
        totals[param] = totals.get(param, 0) + total


# What `_fold` adds an occurrence to: (bucket seconds, buckets kept or 0 for unbounded, tier), of a memory and of
# a delta.
_FOLDS = tuple((size, kept, tier) for tier, (size, kept, _) in enumerate(TIERS))
_DELTA_FOLDS = ((TIERS[0][0], 0, 0),)
# Occurrences a memory keeps aside across calls before `record` folds them: folded together, the ones in one
# bucket (most of them, in the hour and day tiers) find it once.
FOLD_AT = 8


@dataclass(slots=True, eq=False)
class CustomerMemory:
    """One customer's memory (or an anonymous visit's, with an empty `customer_id`).

    `tiers`: one dict per TIERS entry, event -> bucket -> [count, first epoch, last epoch, {parameter: sum}]
    (a delta keeps only minutes, unbounded: it lives one call, or one anonymous visit); `_tiers` without the
    occurrences counted since they were last folded (`_pending`: (event, epoch, numeric parameters)).
    `offers`: offer code -> {"contacts": {day: n}, "response": [epoch, accepted]}. `stamps`: attribute ->
    epoch of its last change. `generation`: the customer's erasure count when this memory was loaded (a
    delta of an older generation is never written: `store`). `unsaved`: the delta not yet written (None in
    a stored memory or a delta). `_undo`: while a call that may fail changes the memory (`record`), what each
    change replaced, so that `undo` puts it back: cheaper than a copy taken before every call, which costs as
    much as the customer's history is long. `_delta`: this is a delta (see `tiers`).
    """

    audience_level: str = ""
    customer_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    _tiers: list[dict[str, dict[str, list]]] = field(default_factory=lambda: [{}, {}, {}])  # one per TIERS entry
    offers: dict[str, dict] = field(default_factory=dict)
    stamps: dict[str, float] = field(default_factory=dict)
    generation: int = 0
    unsaved: CustomerMemory | None = None
    _delta: bool = field(default=False, repr=False)
    _pending: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list, repr=False)
    _undo: Undo | None = field(default=None, repr=False)
    _mark: int = field(default=0, repr=False)  # while recording: how many of `_pending` earlier calls counted

    @classmethod
    def live(cls, level: str = "", customer_id: str = "", attributes: dict[str, Any] | None = None,
             generation: int = 0) -> CustomerMemory:
        """A memory a session works on: it keeps the delta of its changes."""
        return cls(level, customer_id, attributes or {}, generation=generation,
                   unsaved=cls.new_delta(level, customer_id, generation))

    @classmethod
    def new_delta(cls, level: str, customer_id: str, generation: int = 0) -> CustomerMemory:
        """An empty delta, for a live memory's `unsaved`."""
        return cls(level, customer_id, generation=generation, _delta=True)

    def __eq__(self, other: object) -> bool:
        """Equal memories, whatever each has folded yet (dataclass equality, but of the tiers with every count)."""
        if type(other) is not CustomerMemory:
            return NotImplemented
        return self._compared() == other._compared()

    def _compared(self) -> tuple:
        self._fold()
        return (self.audience_level, self.customer_id, self.attributes, self._tiers, self.offers, self.stamps,
                self.generation, self.unsaved)

    def _changes(self) -> tuple[CustomerMemory, ...]:
        return (self,) if self.unsaved is None else (self, self.unsaved)

    # -- a call's changes, undone if it fails ------------------------------------------------------
    def record(self) -> None:
        """From now on keep what each change (of the memory and of its delta) replaces, until `undo` or
        `settle`. What earlier calls counted stays aside (up to FOLD_AT), and `undo` drops only the rest."""
        if len(self._pending) >= FOLD_AT:
            self._fold()
        self._undo, self._mark = [], len(self._pending)
        unsaved = self.unsaved
        if unsaved is not None:
            if len(unsaved._pending) >= FOLD_AT:
                unsaved._fold()
            unsaved._undo, unsaved._mark = self._undo, len(unsaved._pending)

    def undo(self) -> None:
        """Put the memory (and its delta) back as they were at `record` (nothing when it did not record)."""
        undo, self._undo = self._undo, None
        if undo is None:
            return
        for container, key, before in reversed(undo):
            if type(container) is CustomerMemory:
                setattr(container, key, before)
            elif before is _MISSING:
                del container[key]
            else:
                container[key] = before
        for memory in self._changes():  # the lists `record` saw (put back above): what was counted since goes
            memory._undo = None
            del memory._pending[memory._mark:]

    def settle(self) -> None:
        """Keep the changes made since `record`: stop recording."""
        self._undo = None
        if self.unsaved is not None:
            self.unsaved._undo = None

    # -- events ------------------------------------------------------------------------------------
    def count(self, event: str, when: datetime, params: Mapping[str, Any]) -> None:
        """Count one occurrence of `event` at `when` in every tier (in the delta, in its minutes, which `merge`
        rolls up), summing its numeric parameters; folded in later (see the module doc)."""
        occurrence = (event, when.timestamp(),
                      {name: value for name, value in params.items() if type(value) in (int, float)})
        self._pending.append(occurrence)
        if self.unsaved is not None:
            self.unsaved._pending.append(occurrence)

    def _fold(self) -> None:
        """Add the occurrences counted since the last fold to the tiers, in the order counted. While a call
        records, what earlier calls counted is added as `record` would have (nothing to undo), then the call's own
        with what they replace kept."""
        pending = self._pending
        if not pending:
            return
        undo = self._undo
        if undo is not None and self._mark:
            self._add(pending[:self._mark], None)
            del pending[:self._mark]
            self._mark = 0
            if not pending:
                return
        self._add(pending, undo)
        if undo is None:
            pending.clear()
        else:  # `undo` puts this list back (and empties it)
            undo.append((self, "_pending", pending))
            self._pending = []

    def _add(self, occurrences: list[tuple[str, float, dict[str, Any]]], undo: Undo | None) -> None:
        """Add each occurrence to its bucket in every tier it is counted in, in place or while recording as
        `_add_bucket` does, bounding the tier after each (`_trim`). Tier by tier, the occurrences of one event in
        one bucket one after the other find it, copy it and bound the tier once: the next ones change that bucket
        alone (the bound is where the first left it)."""
        tiers = self._tiers
        for size, kept, tier in _DELTA_FOLDS if self._delta else _FOLDS:
            events, run, bucket = tiers[tier], None, None
            for event, stamp, sums in occurrences:
                index = int(stamp // size)
                if bucket is None or index != run or event != bucket_event:
                    run, bucket_event = index, event
                    buckets = events.get(event)
                    if buckets is None:
                        buckets = {}
                        _put(events, event, buckets, undo)
                    key = str(index)
                    bucket = buckets.get(key)
                    if bucket is not None and undo is not None:
                        undo.append((buckets, key, bucket))
                        bucket = buckets[key] = [bucket[0], bucket[1], bucket[2], dict(bucket[3])]
                    elif bucket is None:
                        bucket = [1, stamp, stamp, dict(sums)]
                        _put(buckets, key, bucket, undo)
                        if kept and len(buckets) > kept:
                            _trim(buckets, index, kept, undo)
                        continue
                    if kept and len(buckets) > kept:
                        _trim(buckets, index, kept, undo)
                bucket[0] += 1  # as `_add_bucket`, without a call per occurrence
                if stamp < bucket[1]:
                    bucket[1] = stamp
                if stamp > bucket[2]:
                    bucket[2] = stamp
                totals = bucket[3]
                for param, total in sums.items():
                    totals[param] = totals.get(param, 0) + total

    @property
    def tiers(self) -> list[dict[str, dict[str, list]]]:
        """The buckets of every tier, with every occurrence counted so far (see the class doc)."""
        self._fold()
        return self._tiers

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
        attributes = self.attributes
        for name in names:
            value = values.get(name)
            before = attributes.get(name, _MISSING)
            if type(before) is not type(value) or not before == value:  # 1, 1.0 and True are different values
                stamp = now.timestamp()
                for memory in self._changes():
                    _put(memory.attributes, name, value, self._undo)
                    _put(memory.stamps, name, stamp, self._undo)

    # -- deltas --------------------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return not (self.attributes or self.offers or self._pending or any(self._tiers))

    def take_unsaved(self) -> CustomerMemory | None:
        """The delta since the last call of this (None when nothing changed), folded, starting a new one."""
        delta = self.unsaved
        if delta is None:
            return None
        delta._fold()
        if delta.empty:
            return None
        delta._undo = None  # given away: nothing changes it any more
        if self._undo is not None:
            self._undo.append((self, "unsaved", delta))
        self.unsaved = CustomerMemory.new_delta(self.audience_level, self.customer_id, self.generation)
        return delta

    def merge(self, delta: CustomerMemory) -> None:
        """Fold a delta (another visit's changes, its counts in minute buckets) into this memory, rolling the
        minutes up into every tier; see the module doc."""
        self._fold()  # what this memory counted came first
        undo = self._undo
        for name, value in delta.attributes.items():
            stamp = delta.stamps.get(name, 0.0)
            if stamp >= self.stamps.get(name, float("-inf")):
                _put(self.attributes, name, value, undo)
                _put(self.stamps, name, stamp, undo)
        minute = TIERS[0][0]
        for event, buckets in delta.tiers[0].items():
            for (size, kept, _), tier in zip(TIERS, self._tiers):
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
            dict(self.stamps), self.generation, None if self.unsaved is None else self.unsaved.copy(), self._delta)

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
        delta = cls.new_delta(level, customer, generation) if unsaved is None else \
            cls.stored(level, customer, dict(unsaved["attributes"]), unsaved, generation, delta=True)
        return cls.stored(level, customer, dict(data["attributes"]), data, generation, delta)

    @classmethod
    def stored(cls, level: str, customer_id: str, attributes: dict[str, Any], document: Mapping[str, Any],
               generation: int = 0, unsaved: CustomerMemory | None = None, delta: bool = False) -> CustomerMemory:
        """A memory as the profile store read it (`delta`: a delta as a session stored it)."""
        return cls(level, customer_id, attributes, [dict(document.get(name) or {}) for _, _, name in TIERS],
                   dict(document.get("offers") or {}), dict(document.get("stamps") or {}), generation, unsaved,
                   delta)
