"""The inference benchmark's replay menus and end-to-end section, on tiny inputs (no timing asserts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trigger.engine.load import load_engine
from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.menu import load_menu
from trigger.runtime.local import LocalReplay, ReplayConfig
from trigger_bench import inference_bench


def test_reference_path_is_a_seed_keeping_as_many_events_as_asked(tmp_path: Path) -> None:
    # A cut behind no seed would make every event a candidate for every other path's cuts,
    # and the reference would measure that instead of one more stream (it did, at first).
    files = write_dataset(6000, tmp_path / "d", config=GeneratorConfig(seed=3), formats=("ipc",))
    path = inference_bench._reference_menu(tmp_path, files, 40)
    ref = next(p for p in load_menu(path).paths if p.name == "HLT_Lep1Pt_Ref")
    assert ref.seed is not None and ref.seed.startswith("lep1_pt > ") and ref.cuts == () and ref.stream == "Anomaly"
    engine = load_engine(str(path))[0]
    summary = LocalReplay(engine, tmp_path / "o", config=ReplayConfig(workers=1, progress=False)).run(
        [str(f) for f in files])
    assert abs(summary["paths"]["HLT_Lep1Pt_Ref"] - 40) <= 1


@pytest.mark.slow
def test_end_to_end_section_runs_the_cli_on_both_menus(tmp_path: Path) -> None:
    r = inference_bench.e2e_rates(20_000, repeats=1, tmp=tmp_path)
    assert r["events"] == 20_000 and r["processes"] >= 1
    assert r["default"]["ratio_process_wall"] == r["default"]["ratio_replay_rate"] == 1.0
    ae = r["default+anomaly_ae"]
    assert ae["process_wall_s"] > 0 and ae["replay_events_per_s"] > 0 and ae["ratio_replay_rate"] > 0
    assert not list(tmp_path.glob("e2e-*"))  # each run's output removed
