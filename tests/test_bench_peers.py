"""The awkward-array peer decides exactly as the engine; the peers benchmark writes well-formed results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("awkward")

from trigger_bench import peers
from trigger_bench.peer_awkward import PATHS, awkward_bits, awkward_counts

from trigger.cli.replay import load_engine
from trigger.features.frame import FeatureFrame
from trigger.io.generator import GeneratorConfig, generate_batches
from trigger.testing import make_batch


def engine_bits(batch: pa.RecordBatch) -> np.ndarray:
    engine, _ = load_engine(None)
    assert tuple(engine.path_names) == PATHS
    return engine.menu.evaluate(FeatureFrame(batch))


def test_awkward_peer_matches_the_engine_event_by_event_on_generated_events() -> None:
    import awkward as ak

    batch = next(generate_batches(30_000, config=GeneratorConfig(seed=11, raw_bytes_per_event=16),
                                  batch_size=30_000))
    got = awkward_bits(ak.from_arrow(batch.drop_columns(["process"])))
    want = engine_bits(batch)
    assert want.any(axis=0).sum() >= 8  # most paths fire, so the comparison means something
    np.testing.assert_array_equal(got, want)


def test_awkward_peer_on_edge_cases() -> None:
    mu = lambda pt, q, eta=0.5, iso=0.05: {"pt": pt, "eta": eta, "phi": 1.5 * q, "mass": 0.105, "charge": q, "iso": iso}
    events = [
        {},  # no objects at all
        {"muons": [mu(30.0, 1)]},  # one muon: no pair for the Z path (pad_none)
        {"muons": [mu(45.0, 1), mu(44.0, -1, eta=-0.5)]},  # opposite-charge pair near the Z
        {"muons": [mu(45.0, 1), mu(44.0, 1, eta=-0.5)]},  # same charge: not the Z path
        {"muons": [mu(60.0, -1, eta=2.6)]},  # Mu50 seed fires, the |eta| cut does not
        {"electrons": [{"pt": 40.0, "eta": 0.1, "iso": 0.05, "charge": 1}]},
        {"jets": [{"pt": 600.0, "eta": 0.1}, {"pt": 500.0, "eta": 2.6}], "met_pt": 121.0},  # HT counts |eta|<2.5
        {"jets": [{"pt": 80.0}] * 4},
    ]
    batch = make_batch(events)
    import awkward as ak

    got = awkward_bits(ak.from_arrow(batch))
    np.testing.assert_array_equal(got, engine_bits(batch))
    assert got[2, PATHS.index("HLT_DoubleMu_Zmass")] and not got[3, PATHS.index("HLT_DoubleMu_Zmass")]
    counts, kept = awkward_counts(batch)
    assert kept == int(got.any(axis=1).sum()) and counts == got.sum(axis=0).tolist()


def test_peers_benchmark_writes_well_formed_results(tmp_path: Path) -> None:
    result = peers.main(["--events", "3000", "--repeats", "1", "--strawman-events", "300", "--batch-size", "1000",
                         "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    written = json.loads((tmp_path / "out" / "peers.json").read_text())
    assert written["peers"].keys() == {"engine", "awkward", "strawman"}
    assert written["agrees_with_engine"] == {"awkward": True, "strawman": True}
    assert written["peers"]["engine"]["events"] == 3000 and written["peers"]["strawman"]["events"] == 300
    for r in written["peers"].values():
        rate = r["events_per_s"]
        assert rate["min"] <= rate["median"] <= rate["max"] and rate["runs"] == 1 and r["cpu_us_per_event"] > 0
    assert set(written["ratios"]) == {"engine_vs_awkward", "engine_vs_strawman"}
    assert sum(written["path_counts"].values()) >= written["events_kept"] > 0
    assert written["environment"]["versions"]["awkward"]
    assert result["events_kept"] == written["events_kept"]
