"""Paced replay in the farm's sources: the local pacer's schedule, plus load steps (pure, no Ray)."""

from __future__ import annotations

import numpy as np
import pytest

from trigger.errors import ConfigError
from trigger.io.batch import EventBatch
from trigger.io.pacer import Pacer, Rate, parse_rate
from trigger.runtime.ray.config import FarmConfig
from trigger.runtime.ray.pacing import Schedule, merge_summaries, restamp
from trigger.testing import make_batch


def test_constant_rate_gives_the_local_pacers_stamps_and_emission_times() -> None:
    batches = [make_batch([{"event": i} for i in range(n)]) for n in (3, 5, 2)]
    t0 = 1_000_000_000
    clock = iter(range(t0, t0 + 10**9, 1_000))  # a clock that never catches up with the schedule
    pacer = Pacer(parse_rate("1kHz"), clock_ns=lambda: next(clock), sleep_s=lambda s: None)
    local = list(pacer.pace(EventBatch(f"0:{i}", "f", 0, b.num_rows, b, 0) for i, b in enumerate(batches)))
    schedule = Schedule([(0.0, parse_rate("1kHz"))])
    for b, ref in zip(batches, local, strict=True):
        stamps, due_ns = schedule.plan(b.num_rows, b.nbytes, t0)
        assert due_ns == ref.emitted_ns
        assert restamp(b, stamps).column("timestamp_ns").equals(ref.data.column("timestamp_ns"))


def test_a_load_step_changes_the_spacing_from_its_time_on() -> None:
    schedule = Schedule([(0.0, Rate(1_000.0, "events", "1kHz")), (1.0, Rate(10_000.0, "events", "10kHz"))])
    dues = [schedule.plan(500, 0, 0)[1] for _ in range(4)]
    # 500 events at 1 kHz take 0.5 s: twice to reach the step at 1 s, then 0.05 s per batch.
    assert np.diff([0, *dues]).tolist() == [500_000_000, 500_000_000, 50_000_000, 50_000_000]
    assert schedule.offered_events_per_s(dues[-1]) == 10_000.0


def test_lateness_is_recorded_like_the_local_pacer() -> None:
    schedule = Schedule([(0.0, parse_rate("1000"))])
    _, due = schedule.plan(10, 0, 0)
    schedule.emitted(due, due + 5_000_000, 10)  # 5 ms late
    _, due2 = schedule.plan(10, 0, 0)
    schedule.emitted(due2, due2, 10)
    s = schedule.summary()
    assert (s["behind_max_ms"], s["behind_final_ms"], s["late_batches"], s["events"]) == (5.0, 0.0, 1, 20)
    assert set(s) == set(Pacer(parse_rate("1000")).summary())


def test_sources_split_the_rate_and_their_summaries_add_up() -> None:
    plan = FarmConfig(rate="100kHz", rate_steps=((5.0, "200kHz"),)).rate_plan(0.5)
    assert [(t, r.per_s) for t, r in plan] == [(0.0, 50_000.0), (5.0, 100_000.0)]
    part = {"rate": "x", "unit": "events/s", "target_per_s": 50.0, "achieved_per_s": 40.0, "events": 10,
            "batches": 2, "batch_fill_ms": 1.0, "behind_max_ms": 3.0, "behind_final_ms": 1.0,
            "behind_mean_ms": 2.0, "late_batches": 1}
    merged = merge_summaries([part, {**part, "behind_max_ms": 7.0}], rate_text="100kHz")
    assert (merged["target_per_s"], merged["events"], merged["behind_max_ms"], merged["rate"]) == (
        100.0, 20, 7.0, "100kHz")


@pytest.mark.parametrize("kw", [{"rate": "fast"}, {"rate": "1kHz", "rate_steps": ((2.0, "1GB/s"),)},
                                {"rate_steps": ((3.0, "1kHz"),)}])
def test_bad_rates_are_refused_before_anything_starts(kw: dict) -> None:
    with pytest.raises(ConfigError):
        FarmConfig(**kw)
