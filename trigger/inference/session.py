"""One ONNX Runtime session per model: providers, threads, warm-up, chunking, IO binding.

:class:`ModelSession` builds the session from pinned bytes, checks which
execution providers it really got (:mod:`trigger.inference.providers`), runs a
warm-up (on TensorRT this is when the engine is built), and runs inputs in
chunks of at most ``batch_size`` rows so memory stays bounded whatever the batch.
On a GPU it feeds the graph through IO binding: the input is copied to a
device buffer once and the output read back once (:mod:`trigger.inference.iobinding`).

``session.run`` is thread-safe in onnxruntime, so one ModelSession serves all
the engine threads of a replay. The default of one intra-op thread per session
is deliberate: the runtimes already run one engine per core, and an onnxruntime
thread pool on top would oversubscribe the cores.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from trigger.errors import ConfigError, ModelError
from trigger.inference import iobinding
from trigger.inference.providers import (
    DEFAULT_PROVIDERS,
    ProviderReport,
    check_providers,
    gpu_visible,
    normalize_providers,
    resolve_providers,
)
from trigger.inference.validate import TensorSpec, check_array

__all__ = ["ModelSession", "SessionConfig", "onnxruntime_version"]

_LOG = logging.getLogger("trigger.inference")


def onnxruntime_version() -> str:
    """The onnxruntime version in use (for benchmark records)."""
    return str(ort.__version__)


@dataclass(frozen=True)
class SessionConfig:
    """How to run one model.

    Attributes:
        providers: Execution providers in preference order (short names, see
            :data:`~trigger.inference.providers.PROVIDER_NAMES`).
        threads: onnxruntime intra-op threads (1: the runtime parallelizes across batches).
        batch_size: Most rows per onnxruntime call; larger inputs are chunked.
        warmup_rows: Rows of zeros run once at load (0: no warm-up).
        io_binding: On a GPU, bind device buffers instead of letting run() copy.
        device_id: CUDA device.
        trt_cache_dir: Where TensorRT keeps built engines (None: no cache).

    Raises:
        ConfigError: A value out of range or an unknown provider.
    """

    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    threads: int = 1
    batch_size: int = 65_536
    warmup_rows: int = 256
    io_binding: bool = True
    device_id: int = 0
    trt_cache_dir: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "providers", normalize_providers(self.providers))
        for name, low in (("threads", 1), ("batch_size", 1), ("warmup_rows", 0), ("device_id", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"session config: {name} must be an integer >= {low}, got {value!r}")


class ModelSession:
    """An onnxruntime session for one single-input model.

    Args:
        data: The ONNX bytes (already pinned, see :func:`~trigger.inference.pinning.read_pinned`).
        name: Model name, for messages.
        file: Where the bytes came from, for messages.
        config: Session options.

    Raises:
        ModelError: Not a valid ONNX model, not exactly one input, no usable
            provider, or a GPU-only preference that fell back to the CPU.
    """

    def __init__(self, data: bytes, *, name: str, file: str = "<bytes>",
                 config: SessionConfig = SessionConfig()) -> None:
        self.name = name
        self.file = file
        self.config = config
        requested, notes = resolve_providers(config.providers, available=ort.get_available_providers())
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: fallbacks are reported by ProviderReport
        # Idle intra-op threads spin by default and steal the engine threads' cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            inputs = None
            if "TensorrtExecutionProvider" in requested:  # its profile needs the input shapes first
                inputs = ort.InferenceSession(data, sess_options=options,
                                              providers=["CPUExecutionProvider"]).get_inputs()
            self.session = ort.InferenceSession(
                data, sess_options=options,
                providers=[(p, self._provider_options(p, inputs)) for p in requested])
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"model {name!r}: onnxruntime cannot load {file}: {err}") from None
        self.report = check_providers(ProviderReport(
            name, config.providers, tuple(requested), tuple(self.session.get_providers()), tuple(notes)))
        if self.report.fell_back:
            level = logging.WARNING if gpu_visible() else logging.INFO
            _LOG.log(level, "%s", self.report.describe())
        self.inputs = tuple(TensorSpec.from_node(n, model=name) for n in self.session.get_inputs())
        self.outputs = tuple(TensorSpec.from_node(n, model=name) for n in self.session.get_outputs())
        if len(self.inputs) != 1:
            raise ModelError(f"model {name!r} ({file}) has {len(self.inputs)} inputs "
                             f"({', '.join(s.describe() for s in self.inputs)}); scorers feed exactly one")
        #: The model's metadata_props (producer notes, trigger.kind, trigger.input, ...).
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.warmup_s = self._warm_up()

    def _provider_options(self, provider: str, inputs: Any) -> dict[str, Any]:
        cfg = self.config
        if provider == "CUDAExecutionProvider":
            return {"device_id": cfg.device_id}
        if provider != "TensorrtExecutionProvider":
            return {}
        opts: dict[str, Any] = {"device_id": cfg.device_id}
        if cfg.trt_cache_dir:
            opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=cfg.trt_cache_dir)
        if inputs:
            # One optimization profile over the whole batch range: no engine rebuild per batch size.
            def shapes(rows: int) -> str:
                return ",".join(f"{n.name}:" + "x".join(str(d) if isinstance(d, int) else str(rows)
                                                        for d in n.shape) for n in inputs)
            opts.update(trt_profile_min_shapes=shapes(1), trt_profile_opt_shapes=shapes(cfg.batch_size),
                        trt_profile_max_shapes=shapes(cfg.batch_size))
        return opts

    def _warm_up(self) -> float:
        rows = min(self.config.warmup_rows, self.config.batch_size)
        if not rows:
            return 0.0
        spec = self.inputs[0]
        start = time.perf_counter()
        self.run(np.zeros((rows, *[d or 1 for d in spec.shape[1:]]), dtype=spec.dtype))
        return time.perf_counter() - start

    @property
    def input(self) -> TensorSpec:
        """The declared input."""
        return self.inputs[0]

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run the model on ``x`` (rows on axis 0), chunked by ``batch_size``.

        Args:
            x: Input of the declared dtype and shape.

        Returns:
            The first output, float32, one row per input row (a trailing axis of 1 is dropped).

        Raises:
            ModelError: ``x`` does not match the declared input, or onnxruntime fails.
        """
        x = check_array(x, self.input, model=self.name)
        n = x.shape[0]
        step = self.config.batch_size
        if n <= step:
            return self._run_one(x)
        first = self._run_one(x[:step])
        out = np.empty((n, *first.shape[1:]), dtype=np.float32)
        out[:step] = first
        for lo in range(step, n, step):  # a loop over chunks, not events
            out[lo:lo + step] = self._run_one(x[lo:lo + step])
        return out

    def _run_one(self, x: np.ndarray) -> np.ndarray:
        try:
            if self.report.on_gpu and self.config.io_binding:
                y = iobinding.run_bound(self.session, x, input_name=self.input.name,
                                        output_name=self.outputs[0].name, device_id=self.config.device_id)
            else:
                y = self.session.run([self.outputs[0].name], {self.input.name: x})[0]
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"model {self.name!r} ({self.file}) failed on an input of shape "
                             f"{list(x.shape)}: {err}") from None
        y = np.asarray(y, dtype=np.float32)
        return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
