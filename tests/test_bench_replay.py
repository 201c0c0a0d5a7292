"""The local replay and I/O benchmarks run on tiny inputs and write well-formed results (no timing asserts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from trigger_bench import io_bench, replay_bench


def test_replay_benchmark_writes_well_formed_results(tmp_path: Path) -> None:
    cores = os.sched_getaffinity(0)
    replay_bench.main(["--events", "4000", "--repeats", "1", "--strawman-events", "400",
                       "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    assert os.sched_getaffinity(0) == cores  # pinning is undone
    r = json.loads((tmp_path / "out" / "replay.json").read_text())
    assert set(r["stage_events_per_s"]) == {"read_ipc", "read_parquet", "validate", "features", "decisions", "write"}
    assert all(v > 0 for v in r["stage_events_per_s"].values())
    assert {"ipc_1core", "parquet_1core"} <= set(r["end_to_end_events_per_s"])
    if len(cores) > 1:  # threads and engine processes on two cores, each with its ratio
        assert {"ipc_2core", "ipc_2proc", "parquet_2proc"} <= set(r["end_to_end_events_per_s"])
        assert r["ratios"]["ipc_2proc_vs_1core"] > 0
    for v in r["end_to_end_events_per_s"].values():
        assert v["min"] <= v["median"] <= v["max"]
    assert r["strawman"]["agrees_with_engine"] is True and r["strawman"]["events"] == 400
    assert r["environment"]["cpus_usable"] >= 1 and r["environment"]["versions"]["pyarrow"]


def test_io_benchmark_writes_well_formed_results(tmp_path: Path) -> None:
    io_bench.main(["--events", "3000", "--repeats", "1", "--raw-bytes", "16", "--data-dir", str(tmp_path / "data"),
                   "--out", str(tmp_path / "out")])
    r = json.loads((tmp_path / "out" / "io.json").read_text())
    assert set(r["formats"]) == {"parquet", "ipc", "ipc-stream", "root"}
    for fmt in r["formats"].values():
        assert fmt["events"] == 3000 and fmt["events_per_s"] > 0 and fmt["file_bytes"] > 0
    assert r["root_vs_uproot"]["uproot_iterate"]["events"] == 3000
