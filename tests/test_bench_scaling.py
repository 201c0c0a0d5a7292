"""The control-plane benchmark: points, the per-batch split of the driver's CPU, and a tiny farm run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trigger_bench import scaling

from trigger.runtime.latency import LatencyHistogram


def test_points_parse() -> None:
    assert scaling.parse_points("1x1, 2x4,8X8") == [(1, 1), (2, 4), (8, 8)]
    with pytest.raises(SystemExit, match="not <sources>x<filters>"):
        scaling.parse_points("2by4")
    with pytest.raises(SystemExit, match="at least 1 source"):
        scaling.parse_points("0x2")


def windows_for(loads: list[float], *, per_batch_s: float, fixed: float, batch: int = 1000) -> list[scaling.Window]:
    """1 s windows at the given batches/s, the driver busy ``fixed + per_batch_s * load`` of a core."""
    out, cpu, events = [(0.0, 0.0, 0)], 0.0, 0
    for t, load in enumerate(loads, start=1):
        cpu += fixed + per_batch_s * load
        events += int(load * batch)
        out.append((cpu, float(t), events))
    return out


def test_per_batch_cost_is_the_slope_and_polling_the_intercept() -> None:
    w = windows_for([10, 10, 30, 30, 50, 50], per_batch_s=500e-6, fixed=0.02)
    r = scaling.per_batch(w, batch_size=1000)
    assert r["driver_cpu_us_per_batch"] == pytest.approx(500.0)
    assert r["driver_fixed_cpu_fraction"] == pytest.approx(0.02)
    assert r["batches"] == pytest.approx(180) and r["batches_per_s"] == pytest.approx(30)
    # Overall CPU / batches mixes both: (0.12 + 0.09) s / 180 batches.
    assert r["driver_cpu_us_per_batch_overall"] == pytest.approx(0.21 / 180 * 1e6)


def test_one_load_gives_no_slope_and_too_few_windows_is_an_error() -> None:
    r = scaling.per_batch(windows_for([20, 20, 20], per_batch_s=1e-3, fixed=0.0), batch_size=1000)
    assert r["driver_cpu_us_per_batch"] is None and r["driver_cpu_us_per_batch_overall"] == pytest.approx(1000)
    with pytest.raises(ValueError, match="at least two control windows"):
        scaling.per_batch([(0.0, 0.0, 0)], batch_size=1000)
    with pytest.raises(ValueError, match="no batch finished"):
        scaling.per_batch([(0.0, 0.0, 0), (1.0, 1.0, 0)], batch_size=1000)


def test_latency_histogram_buckets_in_ms() -> None:
    hist = LatencyHistogram()
    hist.add(0.010, weight=5)
    hist.add(0.200, weight=2)
    h = scaling.histogram_ms(hist)
    assert h["events"] == [5, 2]
    for lo, hi, at in zip(h["lower_edge_ms"], h["upper_edge_ms"], (10.0, 200.0)):
        assert lo <= at < hi and hi / lo == pytest.approx(10 ** 0.01, rel=1e-3)


@pytest.mark.slow
@pytest.mark.ray
def test_tiny_farm_sweep_writes_well_formed_results(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    scaling.main(["--points", "2x2", "--rates", "20kHz,60kHz,100kHz", "--step-seconds", "1.2",
                  "--batch-size", "2000", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "scaling.json").read_text())
    assert [(p["sources"], p["filters"]) for p in result["points"]] == [(2, 2)]
    for p in result["points"]:
        assert p["events"] > 0 and p["windows"] >= 2 and p["batches"] > 0
        assert p["driver_cpu_us_per_batch_overall"] > 0 and 0 < p["driver_busy_fraction"] < 2
        assert sum(p["latency_histogram"]["events"]) == p["events"]
