"""Tests of the training recipes (need the 'train' extra: skipped without torch)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("matplotlib")

from trigger.inference import ModelSession, SessionConfig, scorer_for, sha256_file
from trigger.models_train.recipes import train_model

QUICK = {"n_train": 3_000, "epochs": 1, "n_eval": 2_000}


@pytest.mark.parametrize("name", ["anomaly_ae", "ttbar_deepsets"])
def test_recipe_writes_a_loadable_model_and_its_card(tmp_path, name):
    card = train_model(name, seed=3, out_dir=tmp_path / "onnx", card_dir=tmp_path / "cards", log=lambda m: None,
                       **QUICK)
    onnx_path = tmp_path / "onnx" / f"{name}.onnx"
    assert card["sha256"] == sha256_file(onnx_path)
    assert json.loads((tmp_path / "onnx" / f"{name}.json").read_text())["sha256"] == card["sha256"]
    assert (tmp_path / "cards" / f"{name}.md").exists() and (tmp_path / "cards" / f"{name}_roc.png").exists()
    session = ModelSession(onnx_path.read_bytes(), name=name, config=SessionConfig(providers=("cpu",)))
    assert scorer_for(session).kind == card["kind"]  # the runtime can feed what training exported
    assert card["onnx_vs_torch_max_abs_diff"] < 1e-4


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = train_model("anomaly_ae", seed=5, out_dir=tmp_path / "a", log=lambda m: None, **QUICK)
    b = train_model("anomaly_ae", seed=5, out_dir=tmp_path / "b", log=lambda m: None, **QUICK)
    c = train_model("anomaly_ae", seed=6, out_dir=tmp_path / "c", log=lambda m: None, **QUICK)
    assert a["sha256"] == b["sha256"] != c["sha256"]
