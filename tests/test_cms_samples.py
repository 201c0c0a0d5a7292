"""Real recorded CMS events from ../shared/hep-samples: replayed end to end, emulation vs recorded bits."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "hep-samples"
pytestmark = [
    pytest.mark.samples,
    pytest.mark.skipif(not (SAMPLES / "nano_dimuon.root").is_file(),
                       reason=f"real CMS sample files not found in {SAMPLES} (clone the shared/ folder beside the repo)"),
]

uproot = pytest.importorskip("uproot")

from trigger.cli import main
from trigger.engine import Engine
from trigger.features.frame import FeatureFrame
from trigger.io.sources import open_source
from trigger.menu import compile_menu, default_menu_path, load_menu
from trigger.runtime.compare import compare_bits
from trigger.runtime.local import LocalReplay, ReplayConfig

Z_MENU = """menu: zmumu
version: 1
streams: {DoubleMuon: {}}
paths:
  - name: HLT_DoubleMu_Z
    cut:
    - n_muons(pt > 20 and abs(eta) < 2.4) >= 2
    - dimuon_os
    - 70 < dimuon_mass < 110
    stream: DoubleMuon
"""


def _config():
    return ReplayConfig(batch_size=4096, workers=1, progress=False)


def test_nanoaod_dimuon_replays_end_to_end_with_its_recorded_bits(tmp_path):
    notes = []
    engine = Engine(compile_menu(load_menu(default_menu_path())))
    summary = LocalReplay(engine, tmp_path, config=_config(), on_note=notes.append).run(
        [str(SAMPLES / "nano_dimuon.root")])
    assert summary["events_in"] == 40 and summary["events_quarantined"] == 0 and summary["ledger_ok"]
    assert summary["paths"]["HLT_IsoMu24"] == 4 and summary["paths"]["HLT_Mu50"] == 2
    assert "mapping cms_nanoaod chosen automatically" in notes[0]
    kept = pq.read_table(tmp_path / "Muon")
    assert kept.column("run").to_pylist()[0] == 315267
    assert kept.column("HLT_IsoMu24").type == pa.bool_()  # the recorded bits travel with kept events
    assert sum(n.startswith("HLT_") for n in kept.schema.names) == 664  # every recorded path


def test_emulated_isomu24_and_mu50_agree_with_the_recorded_bits_except_near_threshold(tmp_path):
    menu = compile_menu(load_menu(default_menu_path()))
    result = compare_bits([str(SAMPLES / "nano_dimuon.root")], menu=menu,
                          pairs={"HLT_IsoMu24": "HLT_IsoMu24", "HLT_Mu50": "HLT_Mu50"},
                          table_path=tmp_path / "bits.parquet")
    iso, mu50 = result.paths
    assert (iso.both, iso.only_recorded, iso.only_emulated, iso.neither) == (4, 0, 0, 36)
    assert (mu50.both, mu50.only_recorded, mu50.only_emulated, mu50.neither) == (2, 1, 0, 37)
    # The one disagreement: CMS fired HLT_Mu50 online, but the offline muon has pt 48.0 GeV < 50.
    (d,) = mu50.disagreements
    assert (d["run"], d["event"], d["fired"]) == (315267, 197585431, "only_recorded")
    assert d["mu1_pt"] == pytest.approx(48.02, abs=0.01)
    table = pq.read_table(tmp_path / "bits.parquet")  # event by event
    assert table.num_rows == 40 and table.column("recorded_HLT_Mu50").to_pylist().count(True) == 3


def test_nanoaod_v15_maps_through_the_renamed_branches():
    source = open_source(SAMPLES / "nano_tt_v15.root")
    batches = [b for s in source.shards() for b in source.read(s, batch_size=100)]
    assert source.mapping.name == "cms_nanoaod" and sum(b.num_rows for b in batches) == 200
    assert all(b.column("met_pt").null_count == 0 for b in batches)  # PFMET_pt: v15 renamed MET_pt
    engine = Engine(compile_menu(load_menu(default_menu_path())))
    assert sum(engine.process(b, batch_id=str(i)).n_quarantined for i, b in enumerate(batches)) == 0


def test_zmumu_rows_are_deduplicated_by_run_and_event_and_replayed_through_a_z_path(tmp_path):
    path = SAMPLES / "uproot-Zmumu.root"
    menu_file = tmp_path / "z.yaml"
    menu_file.write_text(Z_MENU)
    notes = []
    summary = LocalReplay(Engine(compile_menu(load_menu(menu_file))), tmp_path / "out", config=_config(),
                          on_note=notes.append).run([str(path)])
    assert summary["events_in"] == 500 and summary["ledger_ok"] and summary["events_quarantined"] == 0
    assert any("2,304 rows hold 500 events" in n and "1,804 repeated rows dropped" in n for n in notes)
    # Expected from the file itself: the first row of each (Run, Event), same cuts, recorded mass M.
    raw = uproot.open(path)["events"].arrays(library="np")
    first = np.ones(len(raw["Run"]), dtype=bool)
    first[1:] = (raw["Run"][1:] != raw["Run"][:-1]) | (raw["Event"][1:] != raw["Event"][:-1])
    r = {k: v[first] for k, v in raw.items()}
    passing = ((r["pt1"] > 20) & (np.abs(r["eta1"]) < 2.4) & (r["pt2"] > 20) & (np.abs(r["eta2"]) < 2.4)
               & (r["Q1"] != r["Q2"]) & (r["M"] > 70) & (r["M"] < 110))
    # M agrees with the mass computed from the mapped muons to 1e-3 except at the window edges.
    assert abs(summary["paths"]["HLT_DoubleMu_Z"] - int(passing.sum())) <= 2
    assert summary["paths"]["HLT_DoubleMu_Z"] > 400
    source = open_source(path)
    batch = next(source.read(source.shards()[0], batch_size=10_000))
    mass = FeatureFrame(batch)["dimuon_mass"]
    recorded = batch.column("dimuon_mass_recorded").to_numpy()
    assert batch.num_rows == 500 and np.median(np.abs(mass / recorded - 1)) < 1e-3


def test_cli_inspect_and_compare_bits_on_real_files(tmp_path, capsys):
    assert main(["inspect", str(SAMPLES / "uproot-Zmumu.root")]) == 0
    out = capsys.readouterr().out
    assert "tree events: 2,304 entries, 20 branches" in out and "mapping uproot_zmumu: fits" in out
    assert "mapping cms_nanoaod: does not fit" in out and "no tree 'Events'" in out
    report = tmp_path / "cmp.json"
    assert main(["compare-bits", str(SAMPLES / "nano_dimuon.root"), "--pair", "HLT_Mu50=HLT_Mu50",
                 "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "HLT_Mu50 vs recorded HLT_Mu50: agree on 39 of 40 (97.5%)" in out and "why only recorded" in out
    assert json.loads(report.read_text())["paths"][0]["only_recorded"] == 1
