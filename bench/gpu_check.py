"""GPU check (issue 3): both shipped models on CUDA (and TensorRT where present), with IO binding.

Usage::

    python -m bench.gpu_check [--sizes 1000,10000,100000,1000000] [--repeats 5] [--out FILE]

For each model and each GPU provider it creates a session that may NOT fall
back to the CPU (the provider list has no ``cpu``), verifies with
``session.get_providers()`` that the graph really runs on that provider, then
for each batch size prints events/s per GPU and the share of the time spent
copying the input from host to device (IO binding: input copied once into a
device buffer, output allocated on the device, scores copied back). It also
checks that the GPU scores match the CPU ones.

On a machine without an NVIDIA GPU (or with ``TRIGGER_NO_GPU=1``) it says so and
exits 0: there is nothing to check. Exit 1 when a GPU is present but a provider
did not come up (the silent CPU fallback this check exists to catch).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from trigger.errors import ModelError
from trigger.features.frame import FeatureFrame
from trigger.inference import (
    ModelSession,
    SessionConfig,
    gpu_visible,
    package_models_dir,
    scorer_for,
)
from trigger.inference.iobinding import run_bound_timed
from trigger.inference.session import onnxruntime_version
from trigger.io.generator import GeneratorConfig, generate_batches

MODELS = ("anomaly_ae", "ttbar_deepsets")
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)


def _available() -> list[str]:
    import onnxruntime as ort  # only to list the build's providers

    return list(ort.get_available_providers())


def _inputs(name: str, n_max: int) -> np.ndarray:
    """Model inputs of real generated events, tiled up to ``n_max`` rows."""
    session = ModelSession((package_models_dir() / f"{name}.onnx").read_bytes(), name=name,
                           config=SessionConfig(providers=("cpu",), warmup_rows=0))
    batch = next(generate_batches(65_536, config=GeneratorConfig(seed=21), batch_size=65_536))
    x = scorer_for(session).builder(FeatureFrame(batch))
    reps = -(-n_max // len(x))
    return np.ascontiguousarray(np.concatenate([x] * reps)[:n_max])


def check_model(name: str, providers: tuple[str, ...], sizes: tuple[int, ...], repeats: int) -> dict[str, Any]:
    """Time one model on one GPU provider; raises ModelError if it falls back."""
    data = (package_models_dir() / f"{name}.onnx").read_bytes()
    config = SessionConfig(providers=providers, batch_size=max(sizes), warmup_rows=1024)
    t0 = time.perf_counter()
    session = ModelSession(data, name=name, config=config)  # refuses a CPU fallback: cpu not allowed
    setup_s = time.perf_counter() - t0
    if session.report.primary != providers[0]:
        raise ModelError(f"{session.report.describe()}: not on {providers[0]}")
    x_all = _inputs(name, max(sizes))
    cpu = ModelSession(data, name=name, config=SessionConfig(providers=("cpu",), batch_size=max(sizes), threads=4))
    out: dict[str, Any] = {"provider": session.report.primary, "active": list(session.report.active),
                           "session_setup_s": round(setup_s, 3), "warmup_s": round(session.warmup_s, 3), "sizes": {}}
    for n in sizes:
        x = x_all[:n]
        run_bound_timed(session.session, x, input_name=session.input.name, output_name=session.outputs[0].name)
        phases = [run_bound_timed(session.session, x, input_name=session.input.name,
                                  output_name=session.outputs[0].name)[1] for _ in range(repeats)]
        total = [p["h2d_s"] + p["compute_s"] + p["d2h_s"] for p in phases]
        med = statistics.median(total)
        h2d = statistics.median(p["h2d_s"] for p in phases)
        t = time.perf_counter()
        for _ in range(repeats):
            session.session.run([session.outputs[0].name], {session.input.name: x})  # no IO binding
        plain = (time.perf_counter() - t) / repeats
        gpu_scores = session.run(x[:4096])
        diff = float(np.max(np.abs(gpu_scores - cpu.run(x[:4096]))))
        out["sizes"][str(n)] = {"events_per_s": round(n / med), "h2d_share": round(h2d / med, 3),
                                "h2d_s": h2d, "compute_s": statistics.median(p["compute_s"] for p in phases),
                                "d2h_s": statistics.median(p["d2h_s"] for p in phases),
                                "events_per_s_without_iobinding": round(n / plain),
                                "max_abs_diff_vs_cpu": diff}
        print(f"{name:>15} {session.report.primary:>8} batch {n:>9,}: {n / med:>14,.0f} ev/s per GPU, "
              f"host->device {100 * h2d / med:5.1f}% of the time; without IO binding {n / plain:>14,.0f} ev/s; "
              f"max |GPU - CPU| {diff:.2e}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the check; 0 when done or nothing to check, 1 when a GPU provider fell back."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="batch sizes")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size (median)")
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    available = _available()
    if not gpu_visible() or "CUDAExecutionProvider" not in available:
        why = "no NVIDIA GPU visible (libcuda.so.1 not loadable, or TRIGGER_NO_GPU set)" if not gpu_visible() \
            else "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
        print(f"gpu_check: {why}: nothing to check here. Run it on a machine with an NVIDIA GPU.")
        return 0
    results: dict[str, Any] = {"onnxruntime": onnxruntime_version(), "available": available, "models": {}}
    failed = []
    # TensorRT may hand nodes it cannot build to CUDA, never to the CPU.
    plans = [("cuda",)] + ([("tensorrt", "cuda")] if "TensorrtExecutionProvider" in available else [])
    for name in MODELS:
        results["models"][name] = {}
        for providers in plans:
            try:
                results["models"][name][providers[0]] = check_model(name, providers, sizes, args.repeats)
            except ModelError as err:
                print(f"gpu_check: {name} on {providers[0]}: FAILED: {err}", file=sys.stderr)
                results["models"][name][providers[0]] = {"error": str(err)}
                failed.append(f"{name}/{providers[0]}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if failed:
        print(f"gpu_check: providers that did not come up: {', '.join(failed)}", file=sys.stderr)
        return 1 if any(f.endswith("/cuda") for f in failed) else 0  # TensorRT is optional
    return 0


if __name__ == "__main__":
    sys.exit(main())
