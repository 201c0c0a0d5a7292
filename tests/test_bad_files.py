"""A replay over good and bad files: every bad one is named, quarantined and counted; the rest runs."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

uproot = pytest.importorskip("uproot")

from trigger.engine import Engine
from trigger.io.generator import GeneratorConfig, generate_batches
from trigger.io.root_write import NANOAOD_NAMES, write_nanoaod
from trigger.menu import compile_menu, load_menu
from trigger.runtime.local import LocalReplay, ReplayConfig
from trigger.testing import write_ipc, write_parquet

MENU = "menu: m\nversion: 1\nstreams: {S: {}}\npaths:\n  - name: Mu\n    cut: n_muons(pt > 10) >= 1\n    stream: S\n"


def _events(n, seed):
    batch = next(generate_batches(n, config=GeneratorConfig(seed=seed), batch_size=n))
    return batch.drop_columns(["process"])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    ev = _events(40, 1)
    out = {
        "good.parquet": write_parquet([ev.slice(0, 20), ev.slice(20, 20)], d / "good.parquet"),
        "good.arrow": write_ipc([ev], d / "good.arrow"),
        "good.root": write_nanoaod([ev], d / "good.root"),
    }
    # Truncated Parquet and IPC: the footer is gone.
    for name in ("good.parquet", "good.arrow"):
        data = out[name].read_bytes()
        out[f"truncated{out[name].suffix}"] = d / f"truncated{out[name].suffix}"
        out[f"truncated{out[name].suffix}"].write_bytes(data[: len(data) // 2])
    # Truncated ROOT: uproot writes the tree's metadata first, so entries are known; baskets are cut.
    data = out["good.root"].read_bytes()
    out["truncated.root"] = d / "truncated.root"
    out["truncated.root"].write_bytes(data[: len(data) // 2])
    # Corrupt Parquet row group 1 (the footer is fine): rows 20-40 are unreadable.
    corrupt = bytearray(out["good.parquet"].read_bytes())
    start = pq.ParquetFile(out["good.parquet"]).metadata.row_group(1).column(0).data_page_offset
    corrupt[start:start + 64] = b"\x00" * 64
    out["corrupt.parquet"] = d / "corrupt.parquet"
    out["corrupt.parquet"].write_bytes(bytes(corrupt))
    out["empty.root"] = d / "empty.root"
    out["empty.root"].write_bytes(b"")
    # A NanoAOD-like file without Muon_eta, and one whose Muon_pt is one float per event.
    saved = NANOAOD_NAMES["muons"]
    try:
        NANOAOD_NAMES["muons"] = ("Muon", {k: v for k, v in saved[1].items() if k != "eta"})
        out["missing_branch.root"] = write_nanoaod([ev], d / "missing_branch.root")
        NANOAOD_NAMES["muons"] = ("Muon", {k: v for k, v in saved[1].items() if k != "pt"})
        flat_pt = ev.append_column("Muon_pt", pa.array([25.0] * ev.num_rows, pa.float32()))
        out["wrong_type.root"] = write_nanoaod([flat_pt], d / "wrong_type.root")
    finally:
        NANOAOD_NAMES["muons"] = saved
    # An event-model Parquet file whose met_pt column is text.
    text_met = ev.set_column(ev.schema.get_field_index("met_pt"), "met_pt", pa.array(["1"] * 40))
    out["wrong_type.parquet"] = write_parquet([text_met], d / "wrong_type.parquet")
    return out


def test_bad_files_are_quarantined_named_and_counted_and_the_rest_of_the_run_goes_on(files, tmp_path):
    inputs = [str(p) for p in files.values()] + [str(files["good.parquet"])]  # one file listed twice
    out = tmp_path / "out"
    incidents = []
    replay = LocalReplay(Engine(compile_menu(load_menu(MENU))), out, on_incident=incidents.append,
                         config=ReplayConfig(batch_size=16, workers=2, progress=False))
    summary = replay.run(inputs)

    assert summary["duplicate_inputs"] == [str(files["good.parquet"])]  # read once
    # Files refused whole (event count unknown or mapping impossible): named, with the branch.
    failed = {r.source: r for r in incidents if r.batch_id == ""}
    assert set(summary["files_failed"]) == set(failed) == {
        str(files[n]) for n in ("truncated.parquet", "truncated.arrow", "empty.root", "missing_branch.root",
                                "wrong_type.root")}
    assert "file is empty" in failed[str(files["empty.root"])].reason
    assert failed[str(files["missing_branch.root"])].column == "Muon_eta"
    assert failed[str(files["wrong_type.root"])].column == "Muon_pt"
    assert "needs a list per event" in failed[str(files["wrong_type.root"])].reason
    # Rows lost inside readable files are counted: 40 (truncated ROOT) + 20 (row group 1) + 40 (text met_pt).
    by_file = {}
    for r in incidents:
        if r.batch_id:
            by_file[r.source] = by_file.get(r.source, 0) + r.n_events
    assert by_file == {str(files["truncated.root"]): 40, str(files["corrupt.parquet"]): 20,
                       str(files["wrong_type.parquet"]): 40}
    text_met = [r for r in incidents if r.source == str(files["wrong_type.parquet"])]
    assert {r.column for r in text_met} == {"met_pt"}
    truncated = [r for r in incidents if r.source == str(files["truncated.root"])]
    assert (truncated[0].row_start, truncated[0].row_stop) == (0, 40)
    assert truncated[0].column and f"cannot read branch {truncated[0].column!r}" in truncated[0].reason
    # The good files and the readable part of the corrupt one ran through the menu.
    assert summary["events_in"] == 3 * 40 + 40 + 40 + 40  # good x3, truncated.root, corrupt.parquet, wrong_type
    assert summary["events_quarantined"] == 100
    assert summary["events_kept"] + summary["events_rejected"] == 3 * 40 + 20
    assert summary["ledger_ok"], summary["ledger_problems"]
    lines = [json.loads(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    assert len(lines) == len(incidents) and all(x["source"] and x["reason"] for x in lines)
    assert any(x["column"] == "Muon_eta" for x in lines)
