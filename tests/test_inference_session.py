"""Tests of ONNX Runtime sessions: providers and fallback, validation, chunking, bad models."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from trigger.errors import ConfigError, ModelError
from trigger.inference import (
    ModelSession,
    ProviderReport,
    SessionConfig,
    normalize_providers,
    package_models_dir,
)
from trigger.inference.providers import check_providers, resolve_providers

AE = package_models_dir() / "anomaly_ae.onnx"
CPU = SessionConfig(providers=("cpu",))


@pytest.fixture(scope="module")
def ae() -> ModelSession:
    return ModelSession(AE.read_bytes(), name="ae", file=str(AE), config=CPU)


def _model(inputs: list[tuple[str, int, list]], *, out_shape: list | None = None) -> bytes:
    """A tiny graph: Identity of the first input (plus the others, unused)."""
    ins = [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs]
    out = helper.make_tensor_value_info("y", inputs[0][1], out_shape or inputs[0][2])
    graph = helper.make_graph([helper.make_node("Identity", [inputs[0][0]], ["y"])], "g", ins, [out])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9).SerializeToString()


def test_declared_input_output_and_metadata(ae):
    assert ae.input.describe() == "l1_input: float32[batch, 57]"
    assert [o.name for o in ae.outputs] == ["anomaly_score"]
    assert ae.metadata["trigger.kind"] == "anomaly"
    assert ae.report.primary == "cpu" and not ae.report.fell_back


def test_chunked_runs_give_the_same_bits_as_one_run(ae):
    x = np.random.default_rng(0).gamma(2.0, 20.0, size=(2_500, 57)).astype(np.float32)
    small = ModelSession(AE.read_bytes(), name="ae", config=SessionConfig(providers=("cpu",), batch_size=1_000))
    one = ae.run(x)
    assert one.shape == (2_500,) and one.dtype == np.float32
    np.testing.assert_array_equal(small.run(x), one)
    assert ae.run(x[:0]).shape == (0,)


@pytest.mark.parametrize(("x", "message"), [
    (np.zeros((4, 57), np.float64), "must be float32, got float64"),
    (np.zeros((4, 56), np.float32), r"must have shape l1_input: float32\[batch, 57\], got \[4, 56\]"),
    (np.zeros(57, np.float32), "must have shape"),
    ([[0.0] * 57], "must be a numpy array, got list"),
])
def test_inputs_are_checked_against_the_declared_input(ae, x, message):
    with pytest.raises(ModelError, match=message):
        ae.run(x)


def test_default_preference_reports_the_fallback_when_no_gpu(monkeypatch):
    monkeypatch.setenv("TRIGGER_NO_GPU", "1")
    session = ModelSession(AE.read_bytes(), name="ae", config=SessionConfig())  # tensorrt, cuda, cpu
    assert session.report.primary == "cpu" and session.report.fell_back
    assert session.session.get_providers() == ["CPUExecutionProvider"]
    assert "no NVIDIA GPU visible" in session.report.describe()


def test_gpu_only_preference_refuses_to_run_on_the_cpu(monkeypatch):
    monkeypatch.setenv("TRIGGER_NO_GPU", "1")
    with pytest.raises(ModelError, match="none of the execution providers cuda can run here.*add 'cpu'"):
        ModelSession(AE.read_bytes(), name="ae", config=SessionConfig(providers=("cuda",)))


def test_a_silent_fallback_is_named_and_refused_when_cpu_is_not_allowed():
    # What onnxruntime-gpu does when CUDA libraries are missing: asked CUDA, got CPU.
    got = ProviderReport("m", ("cuda", "cpu"), ("CUDAExecutionProvider", "CPUExecutionProvider"),
                         ("CPUExecutionProvider",))
    assert got.fell_back and not got.on_gpu
    assert "could not start CUDAExecutionProvider" in got.describe()
    assert check_providers(got) is got
    strict = ProviderReport("m", ("cuda",), ("CUDAExecutionProvider",), ("CPUExecutionProvider",))
    with pytest.raises(ModelError, match="cpu is not in the model's providers .cuda.: refusing"):
        check_providers(strict)


def test_provider_names_and_unknown_providers(monkeypatch):
    assert normalize_providers(["CUDA", "CPUExecutionProvider", "cuda"]) == ("cuda", "cpu")
    with pytest.raises(ConfigError, match="unknown execution provider 'cdua'.*'cuda'"):
        normalize_providers(["cdua"])
    monkeypatch.setenv("TRIGGER_NO_GPU", "1")
    asked, notes = resolve_providers(("tensorrt", "cpu"), available=["CPUExecutionProvider"])
    assert asked == ["CPUExecutionProvider"] and notes == ["tensorrt: not in this onnxruntime build"]


def test_bad_config_and_bad_models():
    with pytest.raises(ConfigError, match="threads must be an integer >= 1"):
        SessionConfig(threads=0)
    with pytest.raises(ModelError, match="model 'junk': onnxruntime cannot load x.onnx"):
        ModelSession(b"not an onnx model", name="junk", file="x.onnx", config=CPU)
    two = _model([("a", TensorProto.FLOAT, ["n", 3]), ("b", TensorProto.FLOAT, ["n", 3])])
    with pytest.raises(ModelError, match="has 2 inputs .*scorers feed exactly one"):
        ModelSession(two, name="two", config=CPU)
    strings = _model([("s", TensorProto.STRING, ["n"])])
    with pytest.raises(ModelError, match=r"tensor 's' has type tensor\(string\)"):
        ModelSession(strings, name="s", config=CPU)


def test_warm_up_runs_once_at_load():
    session = ModelSession(AE.read_bytes(), name="ae", config=SessionConfig(providers=("cpu",), warmup_rows=64))
    assert session.warmup_s > 0
    cold = ModelSession(AE.read_bytes(), name="ae", config=SessionConfig(providers=("cpu",), warmup_rows=0))
    assert cold.warmup_s == 0


def test_shipped_model_graphs_avoid_position_dependent_reductions():
    # ReduceMean over a row's 57 floats rounds with the row's memory alignment (its position
    # in the batch): scores would depend on batching. The exported graphs must not use it.
    for path in package_models_dir().glob("*.onnx"):
        ops = {n.op_type for n in onnx.load(path).graph.node}
        assert "ReduceMean" not in ops and "Pow" not in ops, path.name


def test_io_binding_path_gives_the_plain_run_results(ae):
    # The GPU code path (device buffers bound to the session), run here with CPU buffers.
    from trigger.inference.iobinding import run_bound_timed

    x = np.random.default_rng(1).gamma(2.0, 20.0, size=(300, 57)).astype(np.float32)
    out, phases = run_bound_timed(ae.session, x, input_name="l1_input", output_name="anomaly_score", device="cpu")
    np.testing.assert_array_equal(out, ae.run(x))
    assert set(phases) == {"h2d_s", "compute_s", "d2h_s"} and all(v >= 0 for v in phases.values())
