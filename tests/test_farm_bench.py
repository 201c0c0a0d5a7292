"""The farm benchmark runs on tiny inputs and writes well-formed JSON (figures are not checked).

It starts its own Ray instance in a child process: this module's process must
not hold one at the same time (the fixture shuts down any left over).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pandas")  # Ray Data, the benchmark's peer, needs it

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if ray.is_initialized():
        ray.shutdown()
    out = tmp_path_factory.mktemp("bench") / "farm.json"
    proc = subprocess.run([sys.executable, "-m", "bench.farm_bench", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_quick_benchmark_writes_every_section_with_machine_and_versions(results: dict) -> None:
    env = results["environment"]
    assert env["cpus"] >= 1 and env["versions"]["ray"] == ray.__version__ and "pyarrow" in env["versions"]
    t = results["throughput"]
    for key in ("farm_1_filter_events_per_s", "farm_2_filters_events_per_s", "local_2_workers_events_per_s"):
        assert t[key] > 0, key
    assert t["farm_ratio_2_vs_1"] == pytest.approx(t["farm_2_filters_events_per_s"] / t["farm_1_filter_events_per_s"],
                                                   rel=1e-2)
    p = t["parquet"]  # row counts were asserted equal inside the benchmark
    assert p["kept_rows_each"] > 0 and p["ray_data_events_per_s"] > 0 and p["farm_vs_ray_data"] > 0
    assert results["control_overhead"]["farm_ms_per_batch"] > 0
    loads = [row["load"] for row in results["latency_vs_load"]]
    assert loads == sorted(loads) and loads[-1] == 1.2
    for row in results["latency_vs_load"]:
        assert row["p99_ms"] >= row["p50_ms"] > 0 and row["max_in_flight_per_filter"] <= row["credits_per_filter"]
    assert results["backfill"]["backfill_events"] > 0
    assert results["load_step"]["decisions"], "the load step made no scaling decision"


def test_quick_benchmark_splits_the_cpu_per_process_role(results: dict) -> None:
    split = results["cpu_split"]
    if split is None:  # no /proc: not Linux
        return
    one, two = split["filters_1"], split["filters_2"]
    assert one is not None and two is not None and two["batches"] > 0
    assert two["filters_ms_per_batch"] > 0 and two["sink_ms_per_batch"] > 0
    assert 0 < two["cores_busy"] <= split["cores"] + 0.5  # sampled, so a little slack
    assert split["ceiling_ratio_2_vs_1"] > 0
