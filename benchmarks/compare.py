"""Compare two benchmark result files: prints new/old for every number they share, so upgrades show drift.

    python -m benchmarks.compare OLD.json NEW.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def numbers(value, prefix: str = "") -> dict[str, float]:
    """Flatten nested results into {"evaluation.segflow_ns_per_rule": 40.0, "memory[2].peak_bytes": 176, ...}."""
    if isinstance(value, bool):
        return {}
    if isinstance(value, (int, float)):
        return {prefix: value}
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in numbers(item, f"{prefix}.{key}" if prefix
                                                                              else key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{prefix}[{i}]").items()}
    return {}


def main(argv: list[str] | None = None) -> None:
    old_path, new_path = argv or sys.argv[1:]
    old, new = (numbers(json.loads(Path(p).read_text())) for p in (old_path, new_path))
    width = max((len(k) for k in old.keys() & new.keys()), default=10)
    print(f"{'metric':<{width}}  {'old':>12}  {'new':>12}  {'new/old':>8}")
    for key in sorted(old.keys() & new.keys()):
        ratio = f"{new[key] / old[key]:8.3f}" if old[key] else "       -"
        print(f"{key:<{width}}  {old[key]:>12g}  {new[key]:>12g}  {ratio}")


if __name__ == "__main__":
    main()
