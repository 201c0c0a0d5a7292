"""Tests of the shipped models' cards and of ``trigger models info`` (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trigger.cli import main
from trigger.inference import package_models_dir, sha256_file

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("anomaly_ae", "ttbar_deepsets")


@pytest.mark.parametrize("name", MODELS)
def test_card_describes_the_shipped_file(name):
    onnx_path = package_models_dir() / f"{name}.onnx"
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["sha256"] == sha256_file(onnx_path) and card["size_bytes"] == onnx_path.stat().st_size
    assert card["format"]["opset"] >= 17 and card["input"]["shape"][0] == "batch"
    assert card["training"]["seed"] == 1 and card["training"]["command"].startswith("trigger models train")
    ev = card["evaluation"]
    assert ev["background"]["events"] >= 100_000
    for signal, metrics in ev["signals"].items():
        assert 0.5 < metrics["roc_auc"] <= 1 and 0 <= metrics["efficiency"]["0.01"] <= 1, signal
    for feature in ("ht", "met", "lep1_pt"):
        assert set(ev["baselines"][feature]["efficiency"]) == set(ev["signals"])
    assert card["onnx_vs_torch_max_abs_diff"] < 1e-3
    page = (ROOT / "models" / f"{name}.md").read_text()
    assert card["sha256"] in page and card["comparison"] in page and f"{name}_roc.png" in page
    assert (ROOT / "models" / f"{name}_roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cards_report_the_required_comparisons():
    ae = json.loads((package_models_dir() / "anomaly_ae.json").read_text())
    assert ae["primary_signal"] == "exotic" and ae["kind"] == "anomaly"
    top = json.loads((package_models_dir() / "ttbar_deepsets.json").read_text())
    assert top["evaluation"]["signals"]["ttbar"]["efficiency"]["0.01"] > top["evaluation"]["baselines"]["ht"][
        "efficiency"]["ttbar"]["0.01"]  # the classifier earns its cost against the HT cut


def test_models_info_prints_hash_inputs_and_metrics(capsys):
    assert main(["models", "info", "anomaly_ae"]) == 0
    out = capsys.readouterr().out
    assert sha256_file(package_models_dir() / "anomaly_ae.onnx") in out
    assert "l1_input: float32[batch, 57]" in out and "ROC AUC" in out and "runs on cpu" in out
    assert main(["models", "info", "--json", str(package_models_dir() / "ttbar_deepsets.onnx")]) == 0
    info = json.loads(capsys.readouterr().out)[0]
    assert info["inputs"] == ["objects: float32[batch, 32, 8]"] and info["card"]["sha256_matches"]


def test_models_info_unknown_model(capsys):
    assert main(["models", "info", "nope"]) == 1
    assert "no model file 'nope' and no shipped model of that name (shipped: anomaly_ae, ttbar_deepsets)" in \
        capsys.readouterr().err


def test_models_ship_as_package_data():
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["trigger"]
    assert "models/*.onnx" in globs and "models/*.json" in globs
    assert sorted(p.stem for p in package_models_dir().glob("*.onnx")) == sorted(MODELS)
