"""Tests of model file lookup and sha256 pinning."""

from __future__ import annotations

import shutil

import pytest

from trigger.errors import ModelError
from trigger.inference import (
    MODEL_PATH_ENV,
    model_search_path,
    package_models_dir,
    read_pinned,
    resolve_model_file,
    sha256_file,
)

AE = package_models_dir() / "anomaly_ae.onnx"


def test_pinned_file_loads_and_a_changed_file_is_refused_naming_both_hashes(tmp_path):
    good = sha256_file(AE)
    pinned = read_pinned(AE, expected_sha256=good.upper(), model="ae")
    assert pinned.sha256 == good and pinned.data == AE.read_bytes()
    tampered = tmp_path / "anomaly_ae.onnx"
    tampered.write_bytes(AE.read_bytes() + b"\0")
    bad = sha256_file(tampered)
    with pytest.raises(ModelError) as err:
        read_pinned(tampered, expected_sha256=good, model="ae", pinned_by="menu m.yaml")
    text = str(err.value)
    assert str(tampered) in text and bad in text and good in text and "menu m.yaml pins" in text


@pytest.mark.parametrize("pin", ["abc", "g" * 64, ""])
def test_malformed_pins_are_refused(pin):
    with pytest.raises(ModelError, match="is not 64 hex digits"):
        read_pinned(AE, expected_sha256=pin, model="ae")


def test_lookup_order_menu_dir_then_env_then_package(tmp_path, monkeypatch):
    menu_dir, env_dir = tmp_path / "menu", tmp_path / "env"
    menu_dir.mkdir()
    env_dir.mkdir()
    monkeypatch.setenv(MODEL_PATH_ENV, str(env_dir))
    assert model_search_path(menu_dir=menu_dir) == [menu_dir, env_dir, package_models_dir()]
    assert resolve_model_file("anomaly_ae.onnx", menu_dir=menu_dir) == package_models_dir() / "anomaly_ae.onnx"
    shutil.copy(AE, env_dir / "anomaly_ae.onnx")
    assert resolve_model_file("anomaly_ae.onnx", menu_dir=menu_dir) == env_dir / "anomaly_ae.onnx"
    shutil.copy(AE, menu_dir / "anomaly_ae.onnx")
    assert resolve_model_file("anomaly_ae.onnx", menu_dir=menu_dir) == menu_dir / "anomaly_ae.onnx"
    assert resolve_model_file(str(AE)) == AE  # absolute paths are taken as they are


def test_missing_file_lists_every_place_tried(tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_PATH_ENV, raising=False)
    with pytest.raises(ModelError) as err:
        resolve_model_file("nope.onnx", menu_dir=tmp_path, model="x")
    text = str(err.value)
    assert "model 'x': file 'nope.onnx' not found" in text
    assert str(tmp_path / "nope.onnx") in text and str(package_models_dir() / "nope.onnx") in text
