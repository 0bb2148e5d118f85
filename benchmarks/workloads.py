"""Named rulesets and sessions the service benchmarks share: the shipped example, and a large generated one.

`large_ruleset()` is 30 attributes, 200 segments in 4 flowcharts and 50 rules on `add_to_cart`, each with its
own constants and a mix of operators (comparisons, arithmetic, BETWEEN, IN, LIKE, IS NULL, NOT, COALESCE,
EVENT_COUNT), about half of them firing on a typical session, so no condition is a repeat the caches could
fold away. Generated from a fixed seed: every run measures the same rules.
"""

from __future__ import annotations

import random

from segflow.v1 import decision_service_pb2 as pb, session_pb2

from segflow.server.examples import EXAMPLE_RULESET
from segflow.rules.values import to_value

NUMBERS = [f"num_{i}" for i in range(12)]  # double
COUNTS = [f"count_{i}" for i in range(8)]  # int
TAGS = [f"tag_{i}" for i in range(8)]  # string
FLAGS = ["flag_0", "flag_1"]  # bool
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def session_attributes(n: int) -> dict[str, object]:
    """The 30 attributes a session of the large ruleset starts with (varied by `n`)."""
    attributes: dict[str, object] = {name: float((n * 7 + i * 13) % 100) for i, name in enumerate(NUMBERS)}
    attributes.update({name: (n + i * 3) % 20 for i, name in enumerate(COUNTS)})
    attributes.update({name: WORDS[(n + i) % len(WORDS)] for i, name in enumerate(TAGS)})
    attributes.update({name: (n + i) % 2 == 0 for i, name in enumerate(FLAGS)})
    return attributes


def _condition(pick: random.Random, on_event: bool) -> str:
    """A condition with fresh constants; `on_event`: it may read the event's parameters (a rule's may)."""
    num, num2, count, tag = (pick.choice(NUMBERS), pick.choice(NUMBERS), pick.choice(COUNTS), pick.choice(TAGS))
    c = pick.randrange(10, 90)
    low = pick.randrange(0, 12)
    words = ", ".join(f"'{w}'" for w in pick.sample(WORDS, 3))
    choices = [
        f"{num} > {c}.{pick.randrange(10)}",
        f"{num} * {pick.randrange(2, 9) / 10} + {count} >= {c}",
        f"{count} BETWEEN {low} AND {low + pick.randrange(3, 10)}",
        f"{tag} IN ({words})",
        f"{tag} LIKE '{pick.choice(WORDS)[:2]}%'",
        f"NOT {pick.choice(FLAGS)} AND {num} < {c}",
        f"COALESCE({num2}, 0) <> {c} AND {tag} IS NOT NULL",
        f"EVENT_COUNT('add_to_cart') >= {pick.randrange(1, 6)} OR {num} - {num2} > {c - 50}",
        f"{tag} = '{pick.choice(WORDS)}' OR {count} < {low}",
    ]
    if on_event:
        choices.append(f"event.price * COALESCE(event.quantity, 1) > {c}")
    return pick.choice(choices)


def large_ruleset(segments: int = 200, rules: int = 50, seed: int = 10) -> str:
    """The large generated ruleset as YAML."""
    pick = random.Random(seed)
    lines = ["name: large-generated", "channel: web", "settings: {default_audience_level: Visitor}",
             "audience_levels: [{name: Visitor, id_fields: []}]", "attributes:"]
    lines += [f"  - {{name: {name}, type: double, default: 0.0}}" for name in NUMBERS]
    lines += [f"  - {{name: {name}, type: int, default: 0}}" for name in COUNTS]
    lines += [f"  - {{name: {name}, type: string}}" for name in TAGS]
    lines += [f"  - {{name: {name}, type: bool, default: false}}" for name in FLAGS]
    lines += ["events:", "  - name: add_to_cart", "    parameters:",
              "      - {name: sku, type: string, required: true}",
              "      - {name: price, type: double, required: true}", "      - {name: quantity, type: int}",
              "rules:", "  - {id: resegment, 'on': [add_to_cart], then: [{resegment: {}}]}"]
    for i in range(1, rules):
        target = pick.choice(NUMBERS)
        action = pick.choice([
            f"{{expression: {{expression: \"{target} + event.price * 0.0{pick.randrange(1, 9)}\", assign_to: {target}}}}}",
            f"{{expression: {{expression: \"{pick.choice(COUNTS)} + {pick.randrange(1, 5)}\"}}}}",
            f"{{notify: {{topic: desk-{i % 5}, message: \"'rule {i}: ' || COALESCE({pick.choice(TAGS)}, '-')\"}}}}",
            f"{{log_data: {{table: rule_{i % 4}, columns: {{sku: event.sku, value: {target}}}}}}}",
        ])
        lines.append(f"  - {{id: rule-{i}, 'on': [add_to_cart], if: \"{_condition(pick, True)}\", then: [{action}]}}")
    lines.append("flowcharts:")
    per_chart = segments // 4
    for chart in range(4):
        lines += [f"  - name: chart_{chart}", "    audience_level: Visitor", "    segments:"]
        lines += [f"      - {{name: seg_{chart}_{s}, when: \"{_condition(pick, False)}\"}}"
                  for s in range(per_chart)]
    return "\n".join(lines) + "\n"


WORKLOADS = {"example": EXAMPLE_RULESET, "large": large_ruleset()}


def start_request(workload: str, session_id: str, n: int) -> pb.StartSessionRequest:
    """How a benchmark session of `workload` starts (the large one with its 30 attributes)."""
    parameters = session_attributes(n) if workload == "large" else {}
    return pb.StartSessionRequest(session_id=session_id,
                                  parameters={k: to_value(v) for k, v in parameters.items()})


def add_to_cart(session_id: str, n: int) -> pb.PostEventRequest:
    """The PostEvent every benchmark sends: `add_to_cart` without an event id (so a repeat is not a duplicate)."""
    return pb.PostEventRequest(session_id=session_id, event=session_pb2.Event(name="add_to_cart", parameters={
        "sku": to_value(f"SKU-{n % 97}"), "price": to_value(9.5 + n % 40), "quantity": to_value(1 + n % 3)}))
