"""Prometheus metrics of one app (own registry, so several apps in one process do not collide)."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ScanCacheCollector:
    """The current index's scan cache (assoc.verify.ScanCache), read at each scrape: hits and misses since the index
    was loaded, episodes and bytes held; zeros while no index, or one that does not scan, is loaded."""

    def __init__(self, current: Callable[[], object]):
        self.current = current

    def collect(self):
        assoc = self.current()
        stats = (assoc.scan_cache_stats() if assoc is not None else None) or {}
        for key, what in (("hits", "episodes the scan found in the cache"), ("misses", "episodes the scan decoded"),
                          ("episodes", "episodes held"), ("bytes", "bytes held")):
            yield GaugeMetricFamily(f"assoc_scan_cache_{key}", f"Scan cache of the current index: {what}",
                                    value=stats.get(key, 0))


class ServiceMetrics:
    def __init__(self, current: Callable[[], object] | None = None):
        """`current`: the Associator serving now (its scan cache is exported), or None."""
        self.registry = CollectorRegistry()
        if current is not None:
            self.registry.register(ScanCacheCollector(current))
        self.requests = Counter("assoc_requests", "HTTP requests by route and status code", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("assoc_request_seconds", "HTTP request latency by route", ["route"],
                                 buckets=BUCKETS, registry=self.registry)
        self.stages = Histogram("assoc_stage_seconds", "Lookup latency per stage (decode, embed, vector, text, "
                                "category, rerank, total)", ["stage"], buckets=BUCKETS, registry=self.registry)
        self.clips = Counter("assoc_clips", "Clips looked up, by outcome (match, no_match, error)", ["outcome"],
                             registry=self.registry)

    def observe_result(self, result) -> None:
        for stage, ms in result.timings_ms.items():
            self.stages.labels(stage).observe(ms / 1000.0)
        outcome = "error" if result.error else ("match" if result.match else "no_match")
        self.clips.labels(outcome).inc()
