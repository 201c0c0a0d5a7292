"""Tests of the training recipes (need the 'train' extra: skipped without torch)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("matplotlib")

import math

import numpy as np

from trigger.inference import ModelSession, SessionConfig, scorer_for, sha256_file
from trigger.models_train.nets import (
    AnomalyScore,
    Autoencoder,
    feature_weights,
    transverse_features,
)
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
    assert card["onnx_vs_torch_max_rel_diff"] < 1e-5 and card["onnx_vs_torch_max_abs_diff"] < 1e-2
    if name == "anomaly_ae":
        assert card["exported_vs_trained_formula_max_rel_diff"] < 1e-5


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = train_model("anomaly_ae", seed=5, out_dir=tmp_path / "a", log=lambda m: None, **QUICK)
    b = train_model("anomaly_ae", seed=5, out_dir=tmp_path / "b", log=lambda m: None, **QUICK)
    c = train_model("anomaly_ae", seed=6, out_dir=tmp_path / "c", log=lambda m: None, **QUICK)
    assert a["sha256"] == b["sha256"] != c["sha256"]


def test_transverse_features_are_pt_eta_px_py_per_object_and_zero_when_absent():
    rng = np.random.default_rng(2)
    x = np.zeros((500, 57), dtype=np.float32)
    x[:, 0::3] = rng.uniform(0, 500, (500, 19))
    x[:, 1::3] = rng.uniform(-2.5, 2.5, (500, 19))
    x[:, 2::3] = rng.uniform(-math.pi, math.pi, (500, 19))
    x[:10, 30:] = 0.0  # absent objects
    t = transverse_features(torch.from_numpy(x)).numpy().reshape(500, 19, 4)
    v = x.reshape(500, 19, 3).astype(np.float64)
    np.testing.assert_array_equal(t[..., 0], x[:, 0::3])
    np.testing.assert_array_equal(t[..., 1], x[:, 1::3])
    np.testing.assert_allclose(t[..., 2], v[..., 0] * np.cos(v[..., 2]), atol=1e-3)  # 500 GeV x ~2e-6
    np.testing.assert_allclose(t[..., 3], v[..., 0] * np.sin(v[..., 2]), atol=1e-3)
    assert not t.reshape(500, 76)[:10, 40:].any()


def test_feature_weights_split_leptons_and_met_from_jets_and_ignore_eta():
    lep, jet = feature_weights(jets=False).reshape(19, 4), feature_weights(jets=True).reshape(19, 4)
    assert lep.sum() == pytest.approx(1) and jet.sum() == pytest.approx(1)
    assert not lep[:, 1].any() and not jet[:, 1].any()  # eta never counts
    assert lep[:9, [0, 2, 3]].all() and not lep[9:].any()  # MET, 4 e/gamma, 4 muons
    assert jet[9:, [0, 2, 3]].all() and not jet[:9].any()  # 10 jets


def _l1_rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 57), dtype=np.float32)
    x[:, 0::3] = rng.exponential(60, (n, 19))
    x[:, 1::3] = rng.uniform(-2.5, 2.5, (n, 19))
    x[:, 2::3] = rng.uniform(-math.pi, math.pi, (n, 19))
    x[: n // 4, 40:] = 0.0  # absent objects
    return x


def test_exported_anomaly_score_is_the_trained_formula_rearranged():
    torch.manual_seed(0)
    x = _l1_rows(4_000, seed=7)
    with torch.no_grad():
        t = transverse_features(torch.from_numpy(x)).numpy()
    ae = Autoencoder(t.mean(axis=0), np.maximum(t.std(axis=0), 0.05))
    jet_cut = np.random.default_rng(8).uniform(0.0, 2.0, 76)  # some jet residuals above, some below
    score = AnomalyScore(ae, jet_cut).eval()
    with torch.no_grad():
        folded, trained = score(torch.from_numpy(x)).numpy(), score.reference(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(folded - trained) / np.maximum(np.abs(trained), 1.0)) < 1e-5
    assert np.std(trained) > 0.01  # not a constant that would match anything


def test_exported_anomaly_score_refuses_weights_it_cannot_fold():
    ae = Autoencoder(np.zeros(76), np.ones(76))
    ae.weights[1] = 0.5  # an eta feature weighted: the folded graph never computes eta errors
    with pytest.raises(ValueError, match="eta"):
        AnomalyScore(ae, np.zeros(76))
