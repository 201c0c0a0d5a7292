"""Running a session on a GPU through IO binding, with optional phase timings.

Without IO binding, ``session.run`` copies the input to the device, runs, and
copies the output back, allocating as it goes. With it, the input goes into a
device buffer (``OrtValue`` on ``cuda``), the output is allocated on the device
by onnxruntime's arena, and only the small score vector comes back. The
binding is built per call: a binding object is not safe to share between the
engine threads, and the arena makes the device allocations cheap.

Exercised only on a machine with an NVIDIA GPU (``bench/gpu_check.py``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import onnxruntime as ort

__all__ = ["run_bound", "run_bound_timed"]


def run_bound(session: Any, x: np.ndarray, *, input_name: str, output_name: str,
              device_id: int = 0, device: str = "cuda") -> np.ndarray:
    """Run ``session`` on ``x`` with device buffers.

    Args:
        session: An ``onnxruntime.InferenceSession`` on CUDA or TensorRT.
        x: The input (C-contiguous).
        input_name: Graph input name.
        output_name: Graph output name.
        device_id: CUDA device.
        device: ``cuda`` (``cpu`` exercises the same code on a machine without a GPU).

    Returns:
        The output, copied to the host.
    """
    return run_bound_timed(session, x, input_name=input_name, output_name=output_name,
                           device_id=device_id, device=device)[0]


def run_bound_timed(session: Any, x: np.ndarray, *, input_name: str, output_name: str,
                    device_id: int = 0, device: str = "cuda") -> tuple[np.ndarray, dict[str, float]]:
    """Like :func:`run_bound`, also timing host->device copy, compute and device->host copy.

    Returns:
        (output, {"h2d_s", "compute_s", "d2h_s"}); each phase ends synchronized.
    """
    binding = session.io_binding()
    t0 = time.perf_counter()
    device_input = ort.OrtValue.ortvalue_from_numpy(x, device, device_id)  # synchronous copy
    t1 = time.perf_counter()
    binding.bind_ortvalue_input(input_name, device_input)
    binding.bind_output(output_name, device, device_id)
    session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    t2 = time.perf_counter()
    out = binding.copy_outputs_to_cpu()[0]
    t3 = time.perf_counter()
    return out, {"h2d_s": t1 - t0, "compute_s": t2 - t1, "d2h_s": t3 - t2}
