"""Sizing the filter pool: a policy looks at measured load and returns a decision with a reason.

Pure Python (no Ray): the driver measures, the policy decides, the pool acts.
A decision says how many filter actors to add (``delta > 0``) or to drain and
remove (``delta < 0``) and *why*, in words a shift crew can read
("p99 41 ms > budget 30 ms"); every decision that changes the pool is written
to the run summary.

:class:`LatencyBudgetPolicy` sizes the pool from the arrival rate and the
measured service rate per filter (Little's law at a target utilization), adds
a filter when the decision latency breaks the budget or sources are blocked
(deadtime), and removes one only when the smaller pool would still be below
the target utilization and the latency has headroom. Cool-downs stop it from
flapping while a new actor starts or a drained one empties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trigger.errors import ConfigError

__all__ = ["FixedPolicy", "LatencyBudgetPolicy", "PoolMetrics", "ScaleDecision", "ScalingPolicy"]


@dataclass(frozen=True, slots=True)
class PoolMetrics:
    """What the driver measured over the last window.

    Attributes:
        now_s: Monotonic time of the measurement (seconds).
        pool_size: Filter actors ready and taking batches (not draining).
        starting: Filter actors asked for but not ready yet (pending resources).
        arrival_rate_events_per_s: Events the sources were due to emit per
            second (the offered load); None in throughput mode (unbounded).
        service_rate_events_per_s: Events one filter decides per second of
            busy time; None until measured.
        latency_p99_s: 99th percentile of decision latency in the window;
            None when nothing was decided.
        deadtime_fraction: Fraction of the window the sources waited for credit.
        utilization: Busy fraction of the pool in the window (0..1+).
    """

    now_s: float
    pool_size: int
    starting: int = 0
    arrival_rate_events_per_s: float | None = None
    service_rate_events_per_s: float | None = None
    latency_p99_s: float | None = None
    deadtime_fraction: float = 0.0
    utilization: float = 0.0


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    """How to change the pool, and why.

    Attributes:
        delta: Filter actors to add (> 0) or drain and remove (< 0); 0 keeps the pool.
        reason: Why, with the numbers that made the decision.
    """

    delta: int
    reason: str


class ScalingPolicy:
    """Base class: decides the pool size from :class:`PoolMetrics`."""

    def decide(self, metrics: PoolMetrics) -> ScaleDecision:
        """Return the change to make now.

        Args:
            metrics: The latest measurements.

        Returns:
            The decision (``delta == 0`` to keep the pool).
        """
        raise NotImplementedError


class FixedPolicy(ScalingPolicy):
    """A pool of fixed size (replaces actors that die, never scales on load).

    Args:
        size: The pool size.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ConfigError(f"a fixed pool needs at least 1 filter actor, got {size}")
        self.size = size

    def decide(self, metrics: PoolMetrics) -> ScaleDecision:
        have = metrics.pool_size + metrics.starting
        if have < self.size:
            return ScaleDecision(self.size - have, f"pool {have} < fixed size {self.size}")
        return ScaleDecision(0, f"fixed pool of {self.size}")


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


class LatencyBudgetPolicy(ScalingPolicy):
    """Sizes the pool from arrival rate, service rate and a latency budget.

    Args:
        min_filters: Never fewer actors.
        max_filters: Never more actors.
        latency_budget_s: The decision latency the p99 must stay under.
        target_utilization: Busy fraction to size for (headroom for bursts).
        scale_up_cooldown_s: Minimum time between a change and the next scale-up
            (an actor takes seconds to start, a node tens of seconds).
        scale_down_cooldown_s: Minimum time between a change and the next
            scale-down (longer: removing capacity too early costs latency).
        down_latency_fraction: Scale down only while p99 is under this fraction
            of the budget.

    Raises:
        ConfigError: Inconsistent bounds or fractions.
    """

    def __init__(
        self,
        *,
        min_filters: int,
        max_filters: int,
        latency_budget_s: float,
        target_utilization: float = 0.7,
        scale_up_cooldown_s: float = 2.0,
        scale_down_cooldown_s: float = 10.0,
        down_latency_fraction: float = 0.5,
    ) -> None:
        if not 1 <= min_filters <= max_filters:
            raise ConfigError(f"need 1 <= min_filters <= max_filters, got min {min_filters}, max {max_filters}")
        if latency_budget_s <= 0:
            raise ConfigError(f"latency budget must be > 0 s, got {latency_budget_s}")
        if not 0 < target_utilization <= 1:
            raise ConfigError(f"target utilization must be in (0, 1], got {target_utilization}")
        if not 0 < down_latency_fraction < 1:
            raise ConfigError(f"down_latency_fraction must be in (0, 1), got {down_latency_fraction}")
        self.min_filters = min_filters
        self.max_filters = max_filters
        self.latency_budget_s = latency_budget_s
        self.target_utilization = target_utilization
        self.scale_up_cooldown_s = scale_up_cooldown_s
        self.scale_down_cooldown_s = scale_down_cooldown_s
        self.down_latency_fraction = down_latency_fraction
        self._last_change_s: float | None = None

    def _cooling(self, now_s: float, cooldown_s: float) -> bool:
        return self._last_change_s is not None and now_s - self._last_change_s < cooldown_s

    def _change(self, now_s: float, delta: int, reason: str) -> ScaleDecision:
        self._last_change_s = now_s
        return ScaleDecision(delta, reason)

    def needed(self, metrics: PoolMetrics) -> int | None:
        """Actors the arrival rate needs at the target utilization (None when unknown)."""
        rate, service = metrics.arrival_rate_events_per_s, metrics.service_rate_events_per_s
        if rate is None or not service:
            return None
        return max(1, math.ceil(rate / (service * self.target_utilization)))

    def decide(self, metrics: PoolMetrics) -> ScaleDecision:
        m = metrics
        have = m.pool_size + m.starting
        if have < self.min_filters:
            return self._change(m.now_s, self.min_filters - have, f"pool {have} < minimum {self.min_filters}")
        if have > self.max_filters:
            return self._change(m.now_s, self.max_filters - have, f"pool {have} > maximum {self.max_filters}")
        if m.starting:
            return ScaleDecision(0, f"waiting for {m.starting} starting filter actor(s)")
        needed = self.needed(m)
        p99 = m.latency_p99_s
        budget = self.latency_budget_s
        # Scale up: the first reason that holds, most specific first.
        up: tuple[int, str] | None = None
        if needed is not None and needed > have:
            up = (needed - have, (f"arrival {m.arrival_rate_events_per_s:,.0f} ev/s needs {needed} filters at "
                                  f"{self.target_utilization:.0%} of {m.service_rate_events_per_s:,.0f} ev/s each "
                                  f"(have {have})"))
        elif p99 is not None and p99 > budget:
            up = (1, f"p99 {_ms(p99)} > budget {_ms(budget)}")
        elif m.deadtime_fraction > 0.01:
            up = (1, f"sources blocked {m.deadtime_fraction:.0%} of the time (deadtime)")
        if up is not None:
            delta = min(up[0], self.max_filters - have)
            if delta <= 0:
                return ScaleDecision(0, f"{up[1]}, but at maximum {self.max_filters}")
            if self._cooling(m.now_s, self.scale_up_cooldown_s):
                return ScaleDecision(0, f"{up[1]}, but cooling down after the last change")
            # Say when the maximum trims the step: the reason explains the delta, not only the need.
            capped = f", capped at maximum {self.max_filters}" if delta < up[0] else ""
            return self._change(m.now_s, delta, up[1] + capped)
        # Scale down: one at a time, only with latency headroom and no deadtime.
        if have > self.min_filters and needed is not None and needed < have:
            if p99 is not None and p99 > self.down_latency_fraction * budget:
                return ScaleDecision(0, f"load needs {needed} but p99 {_ms(p99)} > "
                                        f"{self.down_latency_fraction:.0%} of budget {_ms(budget)}")
            if m.deadtime_fraction > 0.01:
                return ScaleDecision(0, f"load needs {needed} but sources were blocked "
                                        f"{m.deadtime_fraction:.0%} of the time")
            if self._cooling(m.now_s, self.scale_down_cooldown_s):
                return ScaleDecision(0, f"load needs {needed}, cooling down after the last change")
            return self._change(m.now_s, -1, f"arrival {m.arrival_rate_events_per_s:,.0f} ev/s needs {needed} "
                                             f"filters at {self.target_utilization:.0%} (have {have})")
        return ScaleDecision(0, "pool fits the load")
