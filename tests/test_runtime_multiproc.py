"""The local replay over engine processes: same decisions and books as the threaded replay."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trigger.cli import main
from trigger.engine.load import load_engine
from trigger.engine.spec import EngineSpec
from trigger.errors import ConfigError, MenuError
from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.menu import default_menu_path
from trigger.runtime.ledger import read_ledger
from trigger.runtime.local import LocalReplay, ReplayConfig
from trigger.runtime.multiproc import EngineProcessError, choose_start_method
from trigger.testing import make_batch, write_parquet

N_EVENTS = 50_000
KEY = ["run", "luminosity_block", "event"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    files = write_dataset(N_EVENTS, out, config=GeneratorConfig(seed=12, raw_bytes_per_event=32),
                          formats=("parquet", "ipc"), batch_size=4096, row_group_size=4096)
    return {p.suffix: str(p) for p in files}


def _replay(files, out, *, engine=None, spec=None, **cfg):
    engine = engine if engine is not None else load_engine(None)[0]
    return LocalReplay(engine, out, config=ReplayConfig(progress=False, **cfg), engine_spec=spec).run(files)


def _kept(out: Path) -> dict[str, pa.Table]:
    """Each stream's kept events, sorted by event identity (workers write their own parts)."""
    streams = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir() and list(p.glob("part-*.parquet"))):
        table = pq.read_table(sorted(d.glob("part-*.parquet")))
        streams[d.name] = table.sort_by([(k, "ascending") for k in KEY])
    return streams


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_processes_keep_the_same_events_as_threads(dataset, tmp_path, start_method):
    threads = _replay([dataset[".arrow"]], tmp_path / "t", batch_size=4096, workers=1)
    procs = _replay([dataset[".arrow"], dataset[".parquet"]], tmp_path / "p", batch_size=4096, processes=2,
                    start_method=start_method, spec=EngineSpec.from_menu(None))
    assert procs["events_in"] == 2 * N_EVENTS and procs["ledger_ok"], procs["ledger_problems"]
    assert procs["paths"] == {p: 2 * n for p, n in threads["paths"].items()}
    details = procs["engine_processes"]
    assert details["start_method"] == start_method and details["processes"] == 2
    assert sum(w["batches"] for w in details["workers"]) == procs["batches"] == 2 * threads["batches"]
    kt, kp = _kept(tmp_path / "t"), _kept(tmp_path / "p")
    assert kt.keys() == kp.keys()
    for stream, table in kt.items():
        doubled = pa.concat_tables([table, table]).sort_by([(k, "ascending") for k in KEY])
        assert kp[stream].equals(doubled), stream
    names = {p.name.split("-")[1] for p in (tmp_path / "p").glob("*/part-*.parquet")}
    assert names <= {"p0", "p1"} and names
    assert procs["bytes_written"] == sum(p.stat().st_size for p in (tmp_path / "p").glob("*/part-*.parquet"))
    records = read_ledger(tmp_path / "p" / "ledger.jsonl")
    assert len({r.batch_id for r in records}) == len(records) == procs["batches"]


def test_bad_input_is_quarantined_by_the_worker_that_reads_it(dataset, tmp_path):
    bad = write_parquet([make_batch([{"muons": [{"pt": 30}]}, {"met_pt": float("nan")}, {"jets": [{"pt": -1}]}])],
                        tmp_path / "bad_events.parquet")
    wrong = write_parquet([make_batch([{}, {}]).drop_columns(["photons"])], tmp_path / "wrong_schema.parquet")
    out = tmp_path / "out"
    # auto: forked here, spawned once another test has loaded onnxruntime (hence the spec)
    summary = _replay([str(bad), dataset[".arrow"], str(wrong)], out, batch_size=8192, processes=2,
                      spec=EngineSpec.from_menu(None))
    assert summary["events_in"] == N_EVENTS + 3 + 2 and summary["events_quarantined"] == 2 + 2
    lines = {Path(x["source"]).name: x for x in map(json.loads, (out / "quarantine.jsonl").read_text().splitlines())}
    assert lines["bad_events.parquet"]["column"] == "met_pt" and lines["bad_events.parquet"]["rows"] == [1, 2]
    assert "missing column 'photons'" in lines["wrong_schema.parquet"]["reason"]
    saved = pa.ipc.open_file(str(out / lines["bad_events.parquet"]["data_file"])).read_all()
    assert saved.num_rows == 2


class _Sabotaged:
    """The real engine, except in a child process, where it fails the way ``how`` says."""

    def __init__(self, how: str) -> None:
        self.engine, _ = load_engine(None)
        self.path_names = self.engine.path_names
        self.parent = os.getpid()
        self.how = how

    def process(self, batch, *, batch_id, source=None):
        if os.getpid() != self.parent:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("sabotaged engine")
        time.sleep(0.02)  # leave the child shards to take
        return self.engine.process(batch, batch_id=batch_id, source=source)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks the sabotaged engine into the child")
@pytest.mark.parametrize(("how", "expected"), [("kill", "died with exit code -9"), ("raise", "sabotaged engine")])
def test_a_failed_or_killed_engine_process_stops_the_replay_with_its_reason(dataset, tmp_path, how, expected):
    with pytest.raises(EngineProcessError, match=expected):
        _replay([dataset[".arrow"]], tmp_path, engine=_Sabotaged(how), batch_size=1024, processes=2,
                start_method="fork")


def test_processes_refuse_pacing_and_spawning_without_a_menu(dataset, tmp_path):
    with pytest.raises(ConfigError, match="paced replay"):
        ReplayConfig(processes=2, rate="10kHz")
    with pytest.raises(ConfigError, match="engine_spec"):
        _replay([dataset[".arrow"]], tmp_path, processes=2, start_method="spawn")
    with pytest.raises(ConfigError, match="not available"):
        choose_start_method("teleport")


@pytest.mark.parametrize("loaded", ["onnxruntime", "ray"])
def test_auto_forks_unless_onnxruntime_or_ray_is_loaded(monkeypatch, loaded):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("onnxruntime", "ray"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert choose_start_method("auto") == "fork"
    monkeypatch.setitem(sys.modules, loaded, object())
    assert choose_start_method("auto") == "spawn"


def test_cli_replays_with_processes(tmp_path):
    code = main(["replay", "--out", str(tmp_path), "--generate", "30000", "--no-progress", "--processes", "2",
                 "--batch-size", "4096"])
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["events_in"] == 30_000 and summary["ledger_ok"]
    assert summary["config"]["processes"] == 2 and len(summary["engine_processes"]["workers"]) == 2


def test_a_model_menu_forks_its_processes_before_loading_any_model(dataset, tmp_path):
    # The CLI in its own interpreter: this one has onnxruntime loaded (other tests), and a
    # process that has can no longer fork (choose_start_method).
    menu = str(Path(default_menu_path()).with_name("anomaly.yaml"))
    summaries = {}
    for processes in ("1", "2"):
        out = tmp_path / processes
        subprocess.run([sys.executable, "-m", "trigger", "replay", dataset[".arrow"], "--menu", menu, "--out", str(out),
                        "--processes", processes, "--batch-size", "4096", "--no-progress"], check=True,
                       capture_output=True)
        summaries[processes] = json.loads((out / "summary.json").read_text())
    forked = summaries["2"]["engine_processes"]
    assert forked["start_method"] == "fork" and forked["processes"] == 2
    assert all(w["batches"] for w in forked["workers"]), forked  # the child decided batches with its own models
    assert summaries["2"]["paths"] == summaries["1"]["paths"]
    assert summaries["2"]["paths"]["HLT_Anomaly_AE"] > 0 and summaries["2"]["ledger_ok"]
    single, multi = _kept(tmp_path / "1"), _kept(tmp_path / "2")
    assert single.keys() == multi.keys() and all(single[s].equals(multi[s]) for s in single)


def test_replay_given_a_spec_checks_the_menu_at_once_and_builds_the_engine_when_it_runs(dataset, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("menu: m\npaths: [{name: A, cut: 'ht >', stream: S}]\n")
    with pytest.raises(MenuError):
        LocalReplay(EngineSpec.from_menu(bad), tmp_path / "never")
    replay = LocalReplay(EngineSpec.from_menu(None), tmp_path / "o", config=ReplayConfig(progress=False))
    assert replay.menu_name == "default-v1" and replay.path_names == load_engine(None)[0].path_names
    summary = replay.run([dataset[".arrow"]])
    assert summary["events_in"] == N_EVENTS and replay.engine.path_names == replay.path_names


def test_auto_is_one_process_per_usable_core_and_shard_and_one_when_paced(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    auto = ReplayConfig(processes=0)
    assert [auto.engine_processes(n) for n in (1, 3, 16)] == [1, 3, 4]
    assert ReplayConfig(processes=0, rate="10kHz").engine_processes(16) == 1
    assert ReplayConfig(processes=2).engine_processes(1) == 2  # asked for: kept
    with pytest.raises(ConfigError, match="processes must be >= 1, or 0"):
        ReplayConfig(processes=-1)


def test_cli_defaults_to_auto_and_refuses_a_bad_count(tmp_path, capsys):
    assert main(["replay", "--out", str(tmp_path), "--generate", "200000", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["processes"] == 0 and summary["ledger_ok"] and summary["events_in"] == 200_000
    if len(os.sched_getaffinity(0)) > 1:  # the generated file has several record batches (shards)
        details = summary["engine_processes"]
        assert details["processes"] == min(len(os.sched_getaffinity(0)), details["shards"]) > 1
    with pytest.raises(SystemExit):
        main(["replay", "--out", str(tmp_path / "x"), "--processes", "0"])
    assert "at least 1 process" in capsys.readouterr().err
