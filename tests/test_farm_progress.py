"""The farm's live terminal lines (pure, no Ray)."""

from __future__ import annotations

import pytest

from trigger.runtime.ray.progress import FarmProgress, farm_line, path_line


def test_farm_line_shows_pool_latency_against_budget_deadtime_and_backfill() -> None:
    line = farm_line(pool={"ready": 2, "starting": 1, "draining": 0}, p50_ms=12.4, p99_ms=41.2, budget_ms=30,
                     deadtime_fraction=0.125, in_flight=3, backfill_events=1200)
    assert line == ("pool 2 (+1 starting)  p50 12 ms, p99 41 ms / budget 30 ms  deadtime 12.5%  in flight 3  "
                    "backfill 1,200 ev")
    assert "p99 - / budget" in farm_line(pool={"ready": 1}, p99_ms=None, budget_ms=30, deadtime_fraction=0,
                                         in_flight=0, backfill_events=0)


def test_path_line_lists_the_busiest_paths_first() -> None:
    line = path_line({"HLT_A": 10.0, "HLT_B": 2500.4, "HLT_C": 0.0}, limit=2)
    assert line == "HLT_B 2,500 Hz  HLT_A 10 Hz"
    assert path_line({}) == "no path fired yet"


def test_plain_progress_prints_a_line_per_interval(capsys: pytest.CaptureFixture[str]) -> None:
    progress = FarmProgress(total_events=100, enabled=True, interval_s=0.0)  # stderr is not a terminal here
    progress.update(events=50, kept=5, bytes_in=1000, farm="pool 2", paths="HLT_B 1 Hz")
    progress.close()
    err = capsys.readouterr().err
    assert "50/100 events" in err and "pool 2" in err and "HLT_B 1 Hz" in err
    FarmProgress(total_events=100, enabled=False).update(events=1, kept=0, bytes_in=0, farm="x", paths="y")
    assert capsys.readouterr().err == ""
