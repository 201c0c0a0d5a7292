"""The farm on a local Ray instance: same decisions as local, flow control, failures, resume, backfill.

One Ray instance (2 CPUs) is shared by the whole module (``ray.init`` costs
seconds). Engines are slowed with :class:`Throttled` (a sleep per batch, same
decisions) where a run must last long enough to inject a failure into it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray")

from trigger.cli.replay import load_engine
from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.runtime.ledger import read_ledger
from trigger.runtime.local import LocalReplay, ReplayConfig
from trigger.runtime.ray import EngineSpec, FarmConfig, FarmReplay
from trigger.runtime.ray.engine_spec import Throttled
from trigger.testing import make_batch, write_ipc

pytestmark = pytest.mark.ray

BATCH = 2_000
N_EVENTS = 24_000
KEY = [("run", "ascending"), ("luminosity_block", "ascending"), ("event", "ascending")]


@pytest.fixture(scope="module")
def ray_instance() -> Any:
    # Metrics reach the Prometheus endpoint within a second (default: 10 s), for the metrics test.
    os.environ.setdefault("RAY_metrics_report_interval_ms", "500")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("farm-data")
    ipc = [str(p) for p in write_dataset(N_EVENTS, root / "gen", config=GeneratorConfig(seed=7, raw_bytes_per_event=64),
                                         formats=("ipc",), batch_size=6_000)]
    parquet = write_dataset(8_000, root / "pq", config=GeneratorConfig(seed=8, run=2), formats=("parquet",),
                            row_group_size=3_000)
    odd = [{"run": 99, "muons": [{"pt": 40.0}]}, {"run": 99, "muons": [{"pt": -5.0}]}, {"run": 99, "met_pt": 300.0}]
    bad_rows = write_ipc([make_batch(odd)], root / "bad_rows.arrow")
    bad_schema = write_ipc([pa.record_batch({"run": pa.array([1, 1], pa.uint32())})], root / "bad_schema.arrow")
    garbage = root / "garbage.arrow"
    garbage.write_bytes(b"not an event file")
    backlog = write_dataset(6_000, root / "backlog", config=GeneratorConfig(seed=9, run=3), formats=("ipc",))
    mixed = ipc + [str(p) for p in parquet] + [str(bad_rows), str(bad_schema), str(garbage)]
    return {"ipc": ipc, "mixed": mixed, "backlog": [str(p) for p in backlog], "root": root}


def local_run(files: list[str], out: Path, batch_size: int = BATCH) -> dict[str, Any]:
    engine, name = load_engine(None)
    config = ReplayConfig(batch_size=batch_size, workers=1, progress=False)
    return LocalReplay(engine, out, config=config, menu_name=name).run(files)


def farm_run(files: list[str], out: Path, *, factory: Any = None, backfill: tuple[str, ...] = (),
             on_window: Any = None, **config: Any) -> dict[str, Any]:
    cfg = FarmConfig(**{"filters": 2, "batch_size": BATCH, "progress": False, **config})
    farm = FarmReplay(factory or EngineSpec.from_menu(None), out, config=cfg, menu_name="default-v1",
                      on_window=on_window)
    return farm.run(files, backfill=backfill)


def streams(out: Path) -> dict[str, pa.Table]:
    """Every stream's kept events, sorted by event identity (parts or batch files alike)."""
    found = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith((".", "quarantine"))):
        tables = [pq.read_table(f) for f in sorted(d.glob("*.parquet"))]
        if tables:
            found[d.name] = pa.concat_tables(tables, promote_options="default").sort_by(KEY)
    return found


def ledger(out: Path) -> list[dict[str, Any]]:
    return sorted((asdict(r) for r in read_ledger(out / "ledger.jsonl")), key=lambda r: (r["source"], r["row_start"]))


def sink_journal(out: Path) -> list[dict[str, Any]]:
    """Every group the sinks journaled (one line per committed group of files)."""
    return [json.loads(line) for p in sorted((out / ".farm").glob("sink-*.jsonl"))
            for line in p.read_text().splitlines()]


def assert_exactly_once(out: Path, reference: Path) -> None:
    got, want = streams(out), streams(reference)
    assert sorted(got) == sorted(want)
    for name, table in want.items():
        ids = got[name].select(["run", "luminosity_block", "event"])
        assert ids.num_rows == len(set(zip(*[c.to_pylist() for c in ids.columns]))), f"duplicates in {name}"
        assert got[name].equals(table), f"stream {name} differs from the local runtime"
    assert ledger(out) == ledger(reference)
    groups = sink_journal(out)
    journaled = [b for g in groups for b in g["batch_ids"]]
    assert len(journaled) == len(set(journaled)), "a batch id committed twice"
    assert {b["batch_id"] for b in ledger(out) if b["streams"]} == set(journaled)
    listed = sorted(f for g in groups for f in g["files"].values())
    assert listed == sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.parquet")), "unjournaled files"


@pytest.fixture(scope="module")
def reference(data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ipc = tmp_path_factory.mktemp("local-ipc")
    return {"ipc_dir": ipc, "ipc": local_run(data["ipc"], ipc)}


@pytest.mark.parametrize("transport", ["object-store", "file"])
def test_same_decisions_outputs_and_ledger_as_the_local_runtime(ray_instance: Any, data: dict[str, Any],
                                                               tmp_path: Path, transport: str) -> None:
    local = local_run(data["mixed"], tmp_path / "local")
    farm = farm_run(data["mixed"], tmp_path / "farm", transport=transport)
    assert farm["farm"]["transport"] == transport
    assert farm["paths"] == local["paths"]
    assert farm["streams"] == local["streams"]
    for key in ("events_in", "events_kept", "events_rejected", "events_quarantined", "batches", "files_failed"):
        assert farm[key] == local[key], key
    assert farm["events_quarantined"] == 3  # 1 bad row + a 2-row batch with the wrong schema
    assert farm["ledger_ok"] and not farm["ledger_problems"]
    assert set(local) - set(farm) == set(), "the farm summary lacks keys the local one has"
    assert_exactly_once(tmp_path / "farm", tmp_path / "local")
    groups = sink_journal(tmp_path / "farm")
    assert len(groups) < sum(1 for r in ledger(tmp_path / "farm") if r["streams"]), "no group held two batches"
    assert farm["bytes_written"] == sum(p.stat().st_size for p in (tmp_path / "farm").glob("*/group-*.parquet")) > 0
    quarantine = [json.loads(line) for line in (tmp_path / "farm" / "quarantine.jsonl").read_text().splitlines()]
    local_q = [json.loads(line) for line in (tmp_path / "local" / "quarantine.jsonl").read_text().splitlines()]
    assert sorted(map(json.dumps, quarantine)) == sorted(map(json.dumps, local_q))
    for rec in quarantine:
        if rec["data_file"]:
            assert (tmp_path / "farm" / rec["data_file"]).is_file()
    assert farm["farm"]["ray"]["ray_version"] == ray.__version__


def test_credits_bound_batches_in_flight_and_waits_are_deadtime(ray_instance: Any, data: dict[str, Any],
                                                              reference: dict[str, Any], tmp_path: Path) -> None:
    slow = Throttled(EngineSpec.from_menu(None), 0.02)
    farm = farm_run(data["ipc"], tmp_path / "farm", factory=slow, credits=1)
    assert farm["farm"]["max_in_flight_per_filter"] == 1
    assert farm["farm"]["deadtime_s"] > 0  # the source outran two slow filters and waited
    assert 0 < farm["farm"]["deadtime_fraction"] <= 1
    assert_exactly_once(tmp_path / "farm", reference["ipc_dir"])


def test_groups_larger_than_the_credits_commit_by_the_timer_without_deadlock(
        ray_instance: Any, data: dict[str, Any], reference: dict[str, Any], tmp_path: Path) -> None:
    # One credit: a batch waits in its sink group until the group commits, so the next cannot come.
    farm = farm_run(data["ipc"], tmp_path / "farm", filters=1, credits=1, sink_group_batches=4,
                    sink_group_delay_s=0.05)
    assert farm["farm"]["max_in_flight_per_filter"] == 1 and farm["ledger_ok"]
    assert all(len(g["batch_ids"]) == 1 for g in sink_journal(tmp_path / "farm"))
    assert_exactly_once(tmp_path / "farm", reference["ipc_dir"])


def test_killed_filter_actor_redispatches_in_flight_batches_exactly_once(
        ray_instance: Any, data: dict[str, Any], reference: dict[str, Any], tmp_path: Path) -> None:
    killed: list[int] = []

    def kill_one(ctl: Any) -> None:
        if not killed and ctl.in_flight:
            fid = max(ctl.in_flight, key=ctl.in_flight.get)
            killed.append(fid)
            ray.kill(ctl.pool.members[fid].handle, no_restart=True)

    slow = Throttled(EngineSpec.from_menu(None), 0.3)
    farm = farm_run(data["ipc"], tmp_path / "farm", factory=slow, on_window=kill_one)
    assert killed, "the run ended before a filter could be killed"
    assert farm["farm"]["redispatched_batches"] >= 1
    assert farm["farm"]["pool"]["died"] == 1 and farm["farm"]["pool"]["started"] == 3  # replaced
    assert farm["ledger_ok"]
    assert_exactly_once(tmp_path / "farm", reference["ipc_dir"])


def test_killed_sink_restarts_and_outputs_stay_exactly_once(ray_instance: Any, data: dict[str, Any],
                                                           reference: dict[str, Any], tmp_path: Path) -> None:
    killed: list[bool] = []

    def kill_sink(ctl: Any) -> None:
        if not killed:
            killed.append(True)
            ray.kill(ctl.pool.sinks[0], no_restart=False)  # Ray restarts it; pending writes are retried

    slow = Throttled(EngineSpec.from_menu(None), 0.3)
    farm = farm_run(data["ipc"], tmp_path / "farm", factory=slow, on_window=kill_sink)
    assert killed
    assert farm["ledger_ok"] and farm["events_in"] == N_EVENTS
    assert_exactly_once(tmp_path / "farm", reference["ipc_dir"])


_CRASHING_DRIVER = """
import sys, ray
from pathlib import Path
from trigger.runtime.ray import EngineSpec, FarmConfig, FarmReplay
from trigger.runtime.ray.engine_spec import Throttled
ray.init(address=sys.argv[1], logging_level="ERROR")
cfg = FarmConfig(filters=1, batch_size=int(sys.argv[3]), progress=False)
FarmReplay(Throttled(EngineSpec.from_menu(None), 0.15), Path(sys.argv[2]), config=cfg).run(sys.argv[4:])
"""


@pytest.mark.slow
def test_restarted_driver_resumes_from_the_ledger_without_duplicates(
        ray_instance: Any, data: dict[str, Any], reference: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "farm"
    address = ray.get_runtime_context().gcs_address
    proc = subprocess.Popen([sys.executable, "-c", _CRASHING_DRIVER, address, str(out), str(BATCH), *data["ipc"]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            lines = (out / "ledger.jsonl").read_text().count("\n") if (out / "ledger.jsonl").exists() else 0
            if lines >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the driver ended before it could be killed: {proc.stderr.read()[-2000:]!r}"
        os.kill(proc.pid, signal.SIGKILL)  # a crash: no summary, actors die with their driver
    finally:
        proc.wait(timeout=30)
    assert not (out / "summary.json").exists()
    done_before = len(read_ledger(out / "ledger.jsonl"))
    farm = farm_run(data["ipc"], out, resume=True)
    assert farm["farm"]["resumed_batches"] == done_before >= 3
    assert farm["batches"] == N_EVENTS // BATCH and farm["events_in"] == N_EVENTS
    assert farm["paths"] == reference["ipc"]["paths"]  # resumed path counts come from the journal
    assert farm["ledger_ok"]
    assert_exactly_once(out, reference["ipc_dir"])


def test_backfill_fills_idle_capacity_and_the_summary_shows_both(ray_instance: Any, data: dict[str, Any],
                                                                tmp_path: Path) -> None:
    farm = farm_run(data["ipc"][:1], tmp_path / "farm", backfill=tuple(data["backlog"]), rate="20kHz",
                    latency_budget_ms=400)
    local = local_run(data["ipc"] + data["backlog"], tmp_path / "local")
    fb = farm["farm"]["backfill"]
    assert fb["events_in"] == 6_000 and farm["farm"]["live"]["events_in"] == N_EVENTS
    assert farm["events_in"] == local["events_in"] and farm["paths"] == local["paths"]
    assert farm["ledger_ok"]
    assert farm["latency_ms"]["p99"] > 0 and fb["latency_ms"]["p99"] > 0
    assert any(r["batch_id"].startswith("b") for r in ledger(tmp_path / "farm"))


def test_paced_replay_keeps_decisions_and_reports_pacing_like_local(ray_instance: Any, data: dict[str, Any],
                                                                   reference: dict[str, Any], tmp_path: Path) -> None:
    farm = farm_run(data["ipc"], tmp_path / "farm", rate="60kHz")
    engine, name = load_engine(None)
    local = LocalReplay(engine, tmp_path / "local", config=ReplayConfig(batch_size=BATCH, workers=1, progress=False,
                                                                       rate="60kHz"), menu_name=name).run(data["ipc"])
    assert set(local) - set(farm) == set()
    assert set(farm["pacing"]) == set(local["pacing"]) and farm["pacing"]["events"] == N_EVENTS
    assert farm["paths"] == reference["ipc"]["paths"]  # restamped times do not change decisions
    assert farm["latency_ms"]["p50"] > 0
    kept = streams(tmp_path / "farm")["Muon"]
    original = streams(reference["ipc_dir"])["Muon"]
    assert kept.column("event").equals(original.column("event"))
    assert not kept.column("timestamp_ns").equals(original.column("timestamp_ns"))  # stamped with due times


def test_cli_farm_replay_exit_codes(ray_instance: Any, data: dict[str, Any], tmp_path: Path) -> None:
    import argparse

    from trigger.cli import farm as farm_cli

    parser = argparse.ArgumentParser(prog="trigger")
    farm_cli.add_parser(parser.add_subparsers(dest="command"))
    common = ["--batch-size", str(BATCH), "--no-progress", "--filters", "1"]
    args = parser.parse_args(["farm", "replay", *data["mixed"], "--out", str(tmp_path / "bad"), *common])
    assert args.func(args) == 3  # quarantined input, as `trigger replay`
    args = parser.parse_args(["farm", "replay", *data["ipc"], "--out", str(tmp_path / "ok"), *common,
                              "--rate", "100kHz", "--rate-step", "0.1:200kHz"])
    assert args.rate_step == [(0.1, "200kHz")]
    assert args.func(args) == 0
    assert json.loads((tmp_path / "ok" / "summary.json").read_text())["runtime"] == "ray"


def test_numbers_reach_the_ray_metrics_endpoint(ray_instance: Any, data: dict[str, Any], tmp_path: Path) -> None:
    import urllib.request

    cfg = FarmConfig(filters=1, batch_size=BATCH, progress=False)
    summary = FarmReplay(EngineSpec.from_menu(None), tmp_path / "farm", config=cfg,
                         menu_name="metrics-probe").run(data["ipc"])
    port = ray._private.worker._global_node.metrics_export_port
    want = 'trigger_farm_events_in_total{'
    deadline = time.monotonic() + 60
    found: list[str] = []
    others = ("trigger_farm_path_accepted_total", "trigger_farm_pool_size", "trigger_farm_deadtime_fraction")
    while time.monotonic() < deadline:  # each metric is exported on its own schedule: wait for all, final values
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        found = [line for line in text.splitlines()
                 if want in line and 'menu="metrics-probe"' in line and 'priority="live"' in line]
        if (found and float(found[0].rsplit(" ", 1)[1]) == summary["events_in"]
                and all(name in text for name in others)):
            break
        time.sleep(0.5)
    assert found, "no trigger_farm_events_in metric for this run on the Prometheus endpoint"
    assert float(found[0].rsplit(" ", 1)[1]) == summary["events_in"]
    assert all(name in text for name in others), [n for n in others if n not in text]
