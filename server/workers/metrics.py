"""One /metrics endpoint for all the workers of a host: at scrape time the supervisor asks every worker for its
metrics over its pipe and serves them together, each series labelled `worker="<i>"` (its number, which a
restarted worker keeps: its counters then start again, which Prometheus reads as a reset).

Sum a counter over `worker` for the host's figure. Gauges of the shared store (`segflow_sessions_live`) are the
host's in every worker: take one (`max`). `segflow_workers_scraped` says how many workers answered in time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

# How long a scrape waits for the workers' answers (one that does not answer in time is left out).
SCRAPE_SECONDS = 2.0


class WorkersCollector(Collector):
    """Collects what `gather(timeout)` returns, {worker number: its metrics in the text format}, as one set."""

    def __init__(self, gather: Callable[[float], dict[int, str]]):
        self._gather = gather

    def collect(self) -> Iterable[Metric]:
        texts = self._gather(SCRAPE_SECONDS)
        families: dict[str, Metric] = {}
        for index, text in sorted(texts.items()):
            for family in text_string_to_metric_families(text):
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(family.name, family.documentation, family.type,
                                                            family.unit)
                merged.samples += [sample._replace(labels={**sample.labels, "worker": str(index)})
                                   for sample in family.samples]
        yield GaugeMetricFamily("segflow_workers_scraped", "Worker processes whose metrics this scrape includes",
                                value=len(texts))
        yield from families.values()
