"""The scaling policy of the farm: decisions and their reasons (pure, no Ray)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trigger.errors import ConfigError
from trigger.runtime.ray.scaling import (
    FixedPolicy,
    LatencyBudgetPolicy,
    PoolMetrics,
    ScaleDecision,
)


def policy(**kw: float) -> LatencyBudgetPolicy:
    args = {"min_filters": 1, "max_filters": 4, "latency_budget_s": 0.030, "target_utilization": 0.5,
            "scale_up_cooldown_s": 2.0, "scale_down_cooldown_s": 10.0}
    args.update(kw)
    return LatencyBudgetPolicy(**args)  # type: ignore[arg-type]


def test_scaling_and_config_do_not_import_ray() -> None:
    # The policy and options are used (and tested) without a Ray runtime.
    code = "import sys, trigger.runtime.ray.scaling, trigger.runtime.ray.config; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_arrival_rate_sizes_the_pool_with_the_numbers_in_the_reason() -> None:
    d = policy().decide(PoolMetrics(now_s=100, pool_size=1, arrival_rate_events_per_s=300_000,
                                    service_rate_events_per_s=200_000))
    # 300k / (200k * 0.5) = 3 filters -> add 2
    assert d == ScaleDecision(2, "arrival 300,000 ev/s needs 3 filters at 50% of 200,000 ev/s each (have 1)")


def test_a_step_trimmed_by_the_maximum_says_so() -> None:
    d = policy(max_filters=3).decide(PoolMetrics(now_s=100, pool_size=1, arrival_rate_events_per_s=400_000,
                                                 service_rate_events_per_s=200_000))
    # 400k / (200k * 0.5) = 4 filters, but at most 3 -> add 2
    assert d == ScaleDecision(2, "arrival 400,000 ev/s needs 4 filters at 50% of 200,000 ev/s each (have 1), "
                                 "capped at maximum 3")


def test_latency_over_budget_adds_one_and_says_so() -> None:
    d = policy().decide(PoolMetrics(now_s=100, pool_size=2, arrival_rate_events_per_s=50_000,
                                    service_rate_events_per_s=200_000, latency_p99_s=0.041))
    assert d.delta == 1
    assert d.reason == "p99 41 ms > budget 30 ms"


def test_deadtime_in_throughput_mode_scales_up() -> None:
    d = policy().decide(PoolMetrics(now_s=100, pool_size=2, deadtime_fraction=0.25))
    assert d.delta == 1 and "deadtime" in d.reason and "25%" in d.reason


def test_scale_up_respects_the_maximum() -> None:
    d = policy(max_filters=2).decide(PoolMetrics(now_s=100, pool_size=2, latency_p99_s=0.5))
    assert d.delta == 0 and d.reason.endswith("but at maximum 2")
    d = policy(max_filters=3).decide(PoolMetrics(now_s=100, pool_size=1, arrival_rate_events_per_s=1e9,
                                                 service_rate_events_per_s=1e3))
    assert d.delta == 2  # clamped to max 3


def test_cooldown_blocks_a_second_scale_up_then_releases_it() -> None:
    p = policy()
    hot = {"pool_size": 2, "latency_p99_s": 0.1}
    assert p.decide(PoolMetrics(now_s=100, **hot)).delta == 1
    blocked = p.decide(PoolMetrics(now_s=101, pool_size=3, latency_p99_s=0.1))
    assert blocked.delta == 0 and "cooling down" in blocked.reason
    assert p.decide(PoolMetrics(now_s=102.5, pool_size=3, latency_p99_s=0.1)).delta == 1


def test_waits_for_starting_actors_before_deciding_again() -> None:
    d = policy().decide(PoolMetrics(now_s=100, pool_size=1, starting=2, latency_p99_s=1.0))
    assert d == ScaleDecision(0, "waiting for 2 starting filter actor(s)")


def test_scale_down_one_at_a_time_only_with_latency_headroom() -> None:
    p = policy(scale_down_cooldown_s=10.0)
    idle = {"arrival_rate_events_per_s": 10_000, "service_rate_events_per_s": 200_000}
    d = p.decide(PoolMetrics(now_s=100, pool_size=3, latency_p99_s=0.005, **idle))
    assert d == ScaleDecision(-1, "arrival 10,000 ev/s needs 1 filters at 50% (have 3)")
    # Within the cool-down: no second removal.
    d = p.decide(PoolMetrics(now_s=105, pool_size=2, latency_p99_s=0.005, **idle))
    assert d.delta == 0 and "cooling down" in d.reason
    # Latency without headroom (> 50% of the budget): keep the pool.
    d = p.decide(PoolMetrics(now_s=200, pool_size=2, latency_p99_s=0.020, **idle))
    assert d.delta == 0 and "p99 20 ms > 50% of budget 30 ms" in d.reason


def test_never_below_minimum_and_replaces_dead_actors() -> None:
    p = policy(min_filters=2)
    d = p.decide(PoolMetrics(now_s=100, pool_size=1))
    assert d == ScaleDecision(1, "pool 1 < minimum 2")
    idle = PoolMetrics(now_s=1000, pool_size=2, arrival_rate_events_per_s=1.0, service_rate_events_per_s=1e6)
    assert p.decide(idle).delta == 0


def test_fixed_policy_replaces_but_never_scales() -> None:
    p = FixedPolicy(3)
    assert p.decide(PoolMetrics(now_s=0, pool_size=1, starting=1)) == ScaleDecision(1, "pool 2 < fixed size 3")
    assert p.decide(PoolMetrics(now_s=0, pool_size=3, latency_p99_s=10.0)).delta == 0


@pytest.mark.parametrize("kw", [{"min_filters": 0}, {"min_filters": 3, "max_filters": 2},
                                {"latency_budget_s": 0.0}, {"target_utilization": 1.5}])
def test_bad_bounds_are_config_errors(kw: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        policy(**kw)
