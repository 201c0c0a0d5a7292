import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trigger.cli import main
from trigger.cli.replay import load_engine
from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.runtime.ledger import read_ledger
from trigger.runtime.local import LocalReplay, ReplayConfig
from trigger.testing import make_batch, write_parquet

N_EVENTS = 60_000


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    files = write_dataset(N_EVENTS, out, config=GeneratorConfig(seed=11, raw_bytes_per_event=64),
                          formats=("parquet", "ipc"), row_group_size=16_384)
    return {p.suffix: str(p) for p in files}


def _replay(files, out, **cfg):
    engine, name = load_engine(None)
    return LocalReplay(engine, out, config=ReplayConfig(progress=False, **cfg), menu_name=name).run(files)


def _kept(out: Path) -> dict[str, pa.Table]:
    streams = {}
    for d in sorted(p for p in out.iterdir() if p.is_dir() and list(p.glob("part-*.parquet"))):
        streams[d.name] = pq.read_table(sorted(d.glob("part-*.parquet")))
    return streams


def test_every_event_is_kept_rejected_or_quarantined_once(dataset, tmp_path):
    summary = _replay([dataset[".arrow"]], tmp_path, batch_size=4096)
    assert summary["events_in"] == N_EVENTS
    assert summary["events_kept"] + summary["events_rejected"] + summary["events_quarantined"] == N_EVENTS
    assert summary["ledger_ok"] and summary["ledger_problems"] == []
    records = read_ledger(tmp_path / "ledger.jsonl")
    assert all(r.balanced for r in records) and sum(r.events_in for r in records) == N_EVENTS
    kept = _kept(tmp_path)
    assert {s: t.num_rows for s, t in kept.items()} == summary["streams"]
    for key in ("throughput_events_per_s", "latency_ms", "peak_rss_bytes", "paths", "events_quarantined"):
        assert key in json.loads((tmp_path / "summary.json").read_text())
    assert 0 < summary["events_kept"] < N_EVENTS
    assert summary["latency_ms"]["p50"] > 0 and summary["latency_ms"]["max"] >= summary["latency_ms"]["p99"]


def test_batch_size_workers_and_format_do_not_change_decisions(dataset, tmp_path):
    a = _replay([dataset[".arrow"]], tmp_path / "a", batch_size=1000, workers=2)
    b = _replay([dataset[".arrow"]], tmp_path / "b", batch_size=65_536, workers=1)
    c = _replay([dataset[".parquet"]], tmp_path / "c", batch_size=5000, workers=2)
    assert a["paths"] == b["paths"] == c["paths"]
    ka, kb, kc = _kept(tmp_path / "a"), _kept(tmp_path / "b"), _kept(tmp_path / "c")
    assert ka.keys() == kb.keys() == kc.keys()
    for stream in ka:
        # outputs are written in input order, so the tables are equal row for row
        assert ka[stream].equals(kb[stream]) and ka[stream].equals(kc[stream])


def test_bad_input_is_quarantined_counted_and_the_run_goes_on(dataset, tmp_path):
    bad_events = write_parquet([make_batch([{"muons": [{"pt": 30}]}, {"met_pt": float("nan")}, {"jets": [{"pt": -1}]}])],
                               tmp_path / "bad_events.parquet")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 this is not parquet")
    empty = tmp_path / "empty.arrow"
    empty.touch()
    wrong = write_parquet([make_batch([{}, {}]).drop_columns(["photons"])], tmp_path / "wrong_schema.parquet")
    out = tmp_path / "out"
    code = main(["replay", dataset[".arrow"], str(bad_events), str(garbage), str(empty), str(wrong), dataset[".arrow"],
                 "--out", str(out), "--no-progress", "--batch-size", "8192"])
    assert code == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events_in"] == N_EVENTS + 3 + 2
    assert summary["events_quarantined"] == 2 + 2
    assert summary["events_kept"] + summary["events_rejected"] + summary["events_quarantined"] == summary["events_in"]
    assert sorted(summary["files_failed"]) == sorted([str(garbage), str(empty)])
    assert summary["duplicate_inputs"] == [dataset[".arrow"]]
    lines = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    reasons = {Path(x["source"]).name: x for x in lines}
    assert reasons["bad_events.parquet"]["column"] == "met_pt" and reasons["bad_events.parquet"]["rows"] == [1, 2]
    assert "not a readable Parquet" in reasons["garbage.parquet"]["reason"]
    assert "empty" in reasons["empty.arrow"]["reason"]
    assert "missing column 'photons'" in reasons["wrong_schema.parquet"]["reason"]
    saved = pa.ipc.open_file(str(out / reasons["bad_events.parquet"]["data_file"])).read_all()
    assert saved.column("quarantine_reason").to_pylist()[0].startswith("met_pt")


def test_malicious_menu_is_refused_with_a_clear_message(tmp_path, capsys):
    menu = tmp_path / "evil.yaml"
    menu.write_text("menu: evil\nversion: 1\npaths:\n  - name: P\n    cut: \"__import__('os').system('touch pwned')\"\n"
                    "    stream: S\n")
    code = main(["replay", "--menu", str(menu), "--out", str(tmp_path / "o"), "--generate", "10", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "'P'" in err and "__import__" in err
    assert not Path("pwned").exists()


def test_default_job_generates_and_replays(tmp_path, capsys):
    code = main(["replay", "--out", str(tmp_path), "--generate", "20000", "--no-progress"])
    assert code == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["events_in"] == 20_000 and summary["ledger_ok"]
    assert "HLT_IsoMu24" in capsys.readouterr().out


def test_memory_is_bounded_by_queue_depth_not_input_size(dataset, tmp_path, monkeypatch):
    import trigger.runtime.local as local

    live, peak = [0], [0]
    original = local.iter_batches

    def counting(*args, **kwargs):
        for batch in original(*args, **kwargs):
            live[0] += 1
            peak[0] = max(peak[0], live[0])
            yield batch

    class Recorder(local.RunRecorder):
        def record(self, batch, outcome, *, decided_ns):
            live[0] -= 1
            return super().record(batch, outcome, decided_ns=decided_ns)

    monkeypatch.setattr(local, "iter_batches", counting)
    monkeypatch.setattr(local, "RunRecorder", Recorder)
    _replay([dataset[".arrow"]], tmp_path, batch_size=1000, workers=2, queue_depth=2)
    # credits: 2 * queue_depth + workers batches alive at once, never all 60
    assert peak[0] <= ReplayConfig(queue_depth=2, workers=2).max_in_flight + 1
