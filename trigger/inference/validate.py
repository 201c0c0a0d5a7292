"""Checking arrays against a model's declared inputs (name, dtype, shape).

A mismatch is a :class:`~trigger.errors.ModelError` that names the model, the
input, what the model declares and what was given, so a model exported for
other features (a 56-float input, float64, a different input name) is refused
at load time, not deep inside onnxruntime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trigger.errors import ModelError

__all__ = ["ONNX_DTYPES", "TensorSpec", "check_array", "check_declared"]

#: onnxruntime type strings -> numpy dtypes (those our models can use).
ONNX_DTYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(bool)": np.dtype(np.bool_),
}


@dataclass(frozen=True)
class TensorSpec:
    """A declared model input or output.

    Attributes:
        name: Tensor name in the graph.
        dtype: numpy dtype.
        shape: Dimensions; None for a symbolic (dynamic) one such as the batch axis.
    """

    name: str
    dtype: np.dtype[Any]
    shape: tuple[int | None, ...]

    @classmethod
    def from_node(cls, node: Any, *, model: str = "?") -> TensorSpec:
        """From an onnxruntime ``NodeArg`` (``session.get_inputs()[i]``).

        Raises:
            ModelError: An element type this package cannot feed.
        """
        dtype = ONNX_DTYPES.get(node.type)
        if dtype is None:
            raise ModelError(f"model {model!r}: tensor {node.name!r} has type {node.type}; supported: "
                             f"{', '.join(ONNX_DTYPES)}")
        return cls(node.name, dtype, tuple(d if isinstance(d, int) else None for d in node.shape))

    def describe(self) -> str:
        """E.g. ``l1_input: float32[batch, 57]``."""
        dims = ", ".join("batch" if d is None else str(d) for d in self.shape)
        return f"{self.name}: {self.dtype.name}[{dims}]"


def check_declared(declared: Sequence[TensorSpec], expected: Sequence[TensorSpec], *, model: str,
                   file: str) -> None:
    """Check a model's declared inputs against what a scorer will feed.

    Args:
        declared: The model's inputs.
        expected: The inputs the scorer builds (None dims: any size).
        model: Model name, for messages.
        file: Model file, for messages.

    Raises:
        ModelError: Different names, count, dtype, rank or fixed dimensions.
    """
    got = ", ".join(s.describe() for s in declared) or "none"
    want = ", ".join(s.describe() for s in expected)
    prefix = f"model {model!r} ({file}) declares inputs {got}, but its scorer feeds {want}"
    if [s.name for s in declared] != [s.name for s in expected]:
        raise ModelError(f"{prefix}: input names differ; export the model with these input names")
    for d, e in zip(declared, expected, strict=True):
        if d.dtype != e.dtype:
            raise ModelError(f"{prefix}: input {d.name!r} is {d.dtype.name}, expected {e.dtype.name}")
        if len(d.shape) != len(e.shape) or any(
                a is not None and b is not None and a != b for a, b in zip(d.shape, e.shape, strict=True)):
            raise ModelError(f"{prefix}: input {d.name!r} has shape {list(d.shape)}, expected "
                             f"{list(e.shape)} (None: any size)")


def check_array(array: Any, spec: TensorSpec, *, model: str) -> np.ndarray:
    """Check one input array before running the model.

    Args:
        array: The input.
        spec: The declared input.
        model: Model name, for messages.

    Returns:
        ``array`` as a C-contiguous numpy array (copied only if it was not).

    Raises:
        ModelError: Not an array of the declared dtype, rank or fixed dimensions.
    """
    if not isinstance(array, np.ndarray):
        raise ModelError(f"model {model!r}: input {spec.name!r} must be a numpy array, "
                         f"got {type(array).__name__}")
    if array.dtype != spec.dtype:
        raise ModelError(f"model {model!r}: input {spec.name!r} must be {spec.dtype.name}, got "
                         f"{array.dtype.name} (convert with .astype(np.{spec.dtype.name}))")
    if array.ndim != len(spec.shape) or any(
            d is not None and d != n for d, n in zip(spec.shape, array.shape, strict=True)):
        raise ModelError(f"model {model!r}: input {spec.name!r} must have shape {spec.describe()}, "
                         f"got {list(array.shape)}")
    return np.ascontiguousarray(array)
