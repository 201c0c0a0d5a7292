"""The control loop of the driver: poll sources, record results, size the pool.

Every ``tick_s`` the driver polls each source actor for the small result
records of acknowledged batches (never event data), writes them to the ledger,
updates the metrics and the terminal, replaces dead filter actors, leases
credits to the sources and, once per window, asks the scaling policy for a
decision. A draining actor is killed when no source has a batch in flight on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from trigger.errors import ConfigError, TriggerError
from trigger.io.quarantine import QuarantineRecord
from trigger.runtime.latency import LatencyHistogram
from trigger.runtime.ray.config import FarmConfig
from trigger.runtime.ray.messages import LIVE, SourceReport
from trigger.runtime.ray.metrics import FarmMetrics
from trigger.runtime.ray.pool import DRAINING, READY, STARTING, FilterPool
from trigger.runtime.ray.progress import FarmProgress, farm_line, path_line
from trigger.runtime.ray.record import FarmRecorder
from trigger.runtime.ray.scaling import PoolMetrics, ScalingPolicy

__all__ = ["Controller"]


class Controller:
    """Runs a farm until every source is done.

    Args:
        config: The farm options.
        pool: The filter pool (already asked for its first actors).
        sources: Source actor handles (not started).
        recorder: The run's recorder.
        policy: Sizes the pool.
        metrics: Ray metrics, or None.
        progress: Terminal progress.
        on_incident: Called with each quarantine record.
        start_timeout_s: Longest wait for a filter actor to start (resources).
        window_s: Scaling and rate window.
        on_window: Called with this controller after each window (live views, benchmarks, fault injection).
    """

    def __init__(self, *, config: FarmConfig, pool: FilterPool, sources: list[Any], recorder: FarmRecorder,
                 policy: ScalingPolicy, metrics: FarmMetrics | None, progress: FarmProgress,
                 on_incident: Callable[[QuarantineRecord], None], start_timeout_s: float = 300.0,
                 window_s: float = 1.0, on_window: Callable[[Controller], None] | None = None) -> None:
        self.config, self.pool, self.rec, self.policy = config, pool, recorder, policy
        self.metrics, self.progress, self.on_incident = metrics, progress, on_incident
        self.sources = list(sources)
        self.active = list(range(len(sources)))
        self.start_timeout_s, self.window_s, self.on_window = start_timeout_s, window_s, on_window
        self.last_window: dict[str, Any] = {}
        self.started = False
        self.t0 = time.monotonic()
        self.src_in_flight: dict[int, dict[int, int]] = {}
        self.drain_pushed: set[int] = set()
        self.deadtime_s = [0.0] * len(sources)
        self.emitted = [0] * len(sources)
        self.redispatched = [0] * len(sources)
        self.offered: dict[int, float] = {}
        self.total_service_s = 0.0
        self.total_decided = self.total_batches = 0
        self.scaling_events: list[dict[str, Any]] = []
        self.pacing: list[dict[str, Any]] = []
        self.backfill_paused = False
        self.cap = config.pool_bounds[1]
        self.service_rate: float | None = None
        self.last_p99_ms: float | None = None
        self._new_window()

    def _new_window(self) -> None:
        self.w_t0 = time.monotonic()
        self.w_hist = LatencyHistogram()
        self.w_events = self.w_emitted = 0
        self.w_service_s = 0.0
        self.w_dead0 = sum(self.deadtime_s)
        self.w_paths = np.zeros(len(self.rec.path_names), dtype=np.int64)

    @property
    def in_flight(self) -> dict[int, int]:
        """Filter id -> batches in flight there, over all sources (as of the last polls)."""
        total: dict[int, int] = {}
        for per_filter in self.src_in_flight.values():
            for fid, n in per_filter.items():
                total[fid] = total.get(fid, 0) + n
        return total

    def _push_leases(self) -> None:
        self.drain_pushed |= set(self.pool.ids(DRAINING))
        if not self.active:
            return
        leases = self.pool.leases(len(self.active), self.config.credits)
        ray.get([self.sources[i].set_leases.remote(lease) for i, lease in zip(self.active, leases)])
        if not self.started and self.pool.ids(READY):
            ray.get([s.start.remote() for s in self.sources])
            self.started = True
            self.t0 = time.monotonic()
            self.rec.restart_clock()
            self._new_window()

    def run(self) -> None:
        """Poll until every source is done (raises on a source failure)."""
        while self.active:
            t_tick = time.monotonic()
            changed = bool(self.pool.poll_starting())
            changed |= self._handle_stuck()
            reports = ray.get([self.sources[i].poll.remote() for i in self.active], timeout=300)
            for i, report in zip(list(self.active), reports):
                changed |= self._absorb(i, report)
            if not self.started and time.monotonic() - self.t0 > self.start_timeout_s:
                raise ConfigError(f"no filter actor started within {self.start_timeout_s:.0f} s: each asks for "
                                  f"{self.config.cpus_per_filter} CPU and {self.config.gpus_per_filter} GPU; the "
                                  f"cluster has {ray.available_resources()}")
            if time.monotonic() - self.w_t0 >= self.window_s:
                changed |= self._window()
            in_flight = self.in_flight
            for fid in self.pool.ids(DRAINING):
                if fid in self.drain_pushed and not in_flight.get(fid):  # sources know; nothing left on it
                    self.pool.remove(fid)
                    self.drain_pushed.discard(fid)
            if changed:
                self._push_leases()
            time.sleep(max(0.0, self.config.tick_s - (time.monotonic() - t_tick)))
        if self.metrics is not None:  # the final state, also for runs shorter than a window
            span = max(time.monotonic() - self.t0, 1e-9)
            self.metrics.window(throughput_events_per_s=self.rec.events_in / span, p99_ms=self.last_p99_ms,
                                pool={"ready": len(self.pool.ids(READY)), "starting": len(self.pool.ids(STARTING)),
                                      "draining": len(self.pool.ids(DRAINING))},
                                deadtime_fraction=min(1.0, sum(self.deadtime_s) / (span * len(self.sources))),
                                in_flight=0)

    def _absorb(self, i: int, report: SourceReport) -> bool:
        if report.failure:
            raise TriggerError(f"source actor {i} stopped the run:\n{report.failure}")
        for meta, result in report.completed:
            for incident in self.rec.record_result(meta, result):
                self.on_incident(incident)
            lat = self.rec.latencies(meta, result)
            if meta.priority == LIVE:
                self.w_hist.add(lat[0], weight=lat[1])
            self.w_events += result.n_in
            self.w_service_s += result.service_s
            if result.filter_id >= 0:  # a decided batch (not a poison record)
                self.total_service_s += result.service_s
                self.total_decided += result.n_in
                self.total_batches += 1
            if result.path_counts.size == self.w_paths.size:
                self.w_paths += result.path_counts
            if self.metrics is not None:
                self.metrics.batch(priority=meta.priority, n_in=result.n_in, n_kept=result.n_kept,
                                   n_quarantined=result.n_quarantined, latency_ms=float(lat[0].mean()) * 1e3,
                                   path_counts=dict(zip(self.rec.path_names, result.path_counts.tolist())))
        for u in report.unreadable:
            self.on_incident(self.rec.record_unreadable_tail(u))
        for fid in report.dead_filters:
            if fid in self.pool.members:
                self.pool.mark_dead(fid)
                self._repair(f"filter actor {fid} died")
        self.src_in_flight[i] = dict(report.in_flight)
        self.w_emitted += report.emitted_events - self.emitted[i]
        if report.offered_events_per_s is not None:
            self.offered[i] = report.offered_events_per_s
        self.emitted[i], self.deadtime_s[i], self.redispatched[i] = (
            report.emitted_events, report.deadtime_s, report.redispatched)
        if report.done:
            if report.pacing is not None:
                self.pacing.append(report.pacing)
            self.active.remove(i)
            return True
        return bool(report.dead_filters)

    def _repair(self, why: str) -> None:
        """Replace lost actors at once, up to the minimum (no need to wait for a scaling window)."""
        have = len(self.pool.ids(READY)) + len(self.pool.ids(STARTING))
        missing = self.config.pool_bounds[0] - have
        if missing > 0:
            self.pool.add(missing)
            self._event(have, missing, f"{why}: replaced (pool {have} < minimum {self.config.pool_bounds[0]})")

    def _handle_stuck(self) -> bool:
        stuck = self.pool.stuck(self.start_timeout_s) if self.pool.ids(READY) else []
        for fid in stuck:
            self.pool.remove(fid)
            self.cap = max(1, len(self.pool.ids(READY)) + len(self.pool.ids(STARTING)))
            self._event(0, -1, f"filter actor {fid} not placed after {self.start_timeout_s:.0f} s: no room for "
                               f"{self.config.cpus_per_filter} CPU / {self.config.gpus_per_filter} GPU; pool capped "
                               f"at {self.cap}")
        return bool(stuck)

    def _event(self, size: int, delta: int, reason: str) -> None:
        self.scaling_events.append({"t_s": round(time.monotonic() - self.t0, 3), "pool": size, "delta": delta,
                                    "reason": reason})

    def _window(self) -> bool:
        now = time.monotonic()
        span = max(now - self.w_t0, 1e-9)
        n_ready = len(self.pool.ids(READY))
        n_live = max(1, len(self.active))
        dead_frac = min(1.0, (sum(self.deadtime_s) - self.w_dead0) / (span * n_live))
        if self.w_service_s > 0:
            self.service_rate = self.w_events / self.w_service_s
        p99 = self.w_hist.quantile(0.99) if self.w_hist.total else None
        # Paced replay: the arrival rate is what the schedule offers (a detector's L1 rate), not what
        # the sources managed to emit (that is capped by the pool when it falls behind).
        arrival = sum(self.offered.get(i, 0.0) for i in self.active) if self.config.paced else None
        m = PoolMetrics(now_s=now, pool_size=n_ready, starting=len(self.pool.ids(STARTING)),
                        arrival_rate_events_per_s=arrival, service_rate_events_per_s=self.service_rate,
                        latency_p99_s=p99, deadtime_fraction=dead_frac,
                        utilization=self.w_service_s / (span * max(n_ready, 1)))
        changed = False
        decision = self.policy.decide(m) if self.started else None
        if decision is not None and decision.delta:
            delta = min(decision.delta, self.cap - m.pool_size - m.starting)
            if delta > 0:
                self.pool.add(delta)
            elif delta < 0:
                changed = bool(self.pool.drain(-delta))
            if delta:
                self._event(m.pool_size + m.starting, delta, decision.reason)
        self._backfill_gate(p99)
        pool = {"ready": n_ready, "starting": m.starting, "draining": len(self.pool.ids(DRAINING))}
        p99_ms = None if p99 is None else p99 * 1e3
        self.last_p99_ms = p99_ms if p99_ms is not None else self.last_p99_ms
        if self.metrics is not None:
            self.metrics.window(throughput_events_per_s=self.w_events / span, p99_ms=p99_ms, pool=pool,
                                deadtime_fraction=dead_frac, in_flight=sum(self.in_flight.values()))
        rates = {p: float(c) / span for p, c in zip(self.rec.path_names, self.w_paths)}
        self.progress.update(events=self.rec.events_in, kept=self.rec.kept, bytes_in=self.rec.bytes_in,
                             farm=farm_line(pool=pool, p99_ms=self.last_p99_ms, budget_ms=self.config.latency_budget_ms,
                                            p50_ms=self.w_hist.quantile(0.5) * 1e3 if self.w_hist.total else None,
                                            deadtime_fraction=dead_frac, in_flight=sum(self.in_flight.values()),
                                            backfill_events=self.rec.backfill["events_in"]),
                             paths=path_line(rates))
        self.last_window = {"t_s": round(now - self.t0, 3), "pool": pool, "p99_ms": p99_ms,
                            "throughput_events_per_s": self.w_events / span, "deadtime_fraction": dead_frac,
                            "emitted_events_per_s": self.w_emitted / span,
                            "arrival_events_per_s": arrival, "path_rates_hz": rates}
        self._new_window()
        if self.on_window is not None:
            self.on_window(self)
        return changed

    def _backfill_gate(self, p99_s: float | None) -> None:
        if p99_s is None:
            return
        budget_s = self.config.latency_budget_ms / 1e3
        pause = p99_s > budget_s + self.config.backfill_margin_ms / 1e3
        if pause != self.backfill_paused and (pause or p99_s < budget_s):
            self.backfill_paused = pause
            ray.get([self.sources[i].set_backfill_paused.remote(pause) for i in self.active])

    def summary(self, wall_s: float) -> dict[str, Any]:
        """The farm's part of the run summary."""
        dead = sum(self.deadtime_s)
        return {
            "deadtime_s": round(dead, 3),
            "deadtime_fraction": round(dead / max(wall_s * len(self.sources), 1e-9), 4),
            "pool": {"bounds": list(self.config.pool_bounds), "final": len(self.pool.ids(READY)),
                     "peak": self.pool.peak_ready, "started": self.pool.started, "died": self.pool.died},
            "scaling_events": self.scaling_events,
            "redispatched_batches": sum(self.redispatched),
            "duplicates_ignored": self.rec.duplicates_ignored,
            "resumed_batches": self.rec.resumed_batches,
            "service_rate_events_per_s": round(self.total_decided / self.total_service_s, 1)
            if self.total_service_s else 0.0,
            "mean_batch_service_ms": round(self.total_service_s / self.total_batches * 1e3, 3)
            if self.total_batches else 0.0,
            "busy_fraction": round(self.total_service_s / max(wall_s * max(self.pool.peak_ready, 1), 1e-9), 4),
        }
