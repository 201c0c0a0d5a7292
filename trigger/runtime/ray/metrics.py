"""Ray metrics of the farm: the numbers the terminal shows, for the dashboard and Prometheus.

Exported by the driver (the control plane sees every result record) through
``ray.util.metrics``; Ray's metrics agent serves them on each node's metrics
export port, which Prometheus (or the Ray dashboard's Grafana panels) scrapes.
Names start with ``trigger_farm_``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ray.util.metrics import Counter, Gauge, Histogram

__all__ = ["LATENCY_BOUNDARIES_MS", "FarmMetrics"]

#: Histogram buckets of decision latency (milliseconds).
LATENCY_BOUNDARIES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]


class FarmMetrics:
    """The farm's Ray metrics (one instance in the driver).

    Args:
        menu_name: Tag value identifying the menu.
    """

    def __init__(self, *, menu_name: str) -> None:
        self.tags = {"menu": menu_name or "menu"}
        keys = ("menu",)
        self.events_in = Counter("trigger_farm_events_in", "Events decided", tag_keys=(*keys, "priority"))
        self.events_kept = Counter("trigger_farm_events_kept", "Events kept by any path", tag_keys=(*keys, "priority"))
        self.path_accepted = Counter("trigger_farm_path_accepted", "Events accepted per trigger path",
                                     tag_keys=(*keys, "path"))
        self.quarantined = Counter("trigger_farm_events_quarantined", "Events set aside as bad input", tag_keys=keys)
        self.throughput = Gauge("trigger_farm_throughput_events_per_s", "Events decided per second (last window)",
                                tag_keys=keys)
        self.latency = Histogram("trigger_farm_decision_latency_ms", "Decision latency per batch (ms)",
                                 boundaries=LATENCY_BOUNDARIES_MS, tag_keys=(*keys, "priority"))
        self.latency_p99 = Gauge("trigger_farm_latency_p99_ms", "p99 decision latency (last window, ms)", tag_keys=keys)
        self.pool_size = Gauge("trigger_farm_pool_size", "Filter actors by state", tag_keys=(*keys, "state"))
        self.deadtime = Gauge("trigger_farm_deadtime_fraction", "Fraction of time sources waited for credit",
                              tag_keys=keys)
        self.in_flight = Gauge("trigger_farm_batches_in_flight", "Batches in flight on filter actors", tag_keys=keys)
        for name, metric in vars(self).items():
            if name != "tags":
                metric.set_default_tags(self.tags)

    def batch(self, *, priority: str, n_in: int, n_kept: int, n_quarantined: int, latency_ms: float,
              path_counts: Mapping[str, int]) -> None:
        """Count one decided batch."""
        tags = {"priority": priority}
        self.events_in.inc(n_in, tags=tags)
        if n_kept:
            self.events_kept.inc(n_kept, tags=tags)
        if n_quarantined:
            self.quarantined.inc(n_quarantined)
        self.latency.observe(latency_ms, tags=tags)
        for path, n in path_counts.items():
            if n:
                self.path_accepted.inc(n, tags={"path": path})

    def window(self, *, throughput_events_per_s: float, p99_ms: float | None, pool: Mapping[str, int],
               deadtime_fraction: float, in_flight: int) -> None:
        """Set the gauges at the end of a control window."""
        self.throughput.set(throughput_events_per_s)
        if p99_ms is not None:
            self.latency_p99.set(p99_ms)
        for state, n in pool.items():
            self.pool_size.set(n, tags={"state": state})
        self.deadtime.set(deadtime_fraction)
        self.in_flight.set(in_flight)
