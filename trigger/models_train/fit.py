"""Deterministic training loops and the ONNX export.

Determinism for a seed: ``torch.manual_seed``, deterministic algorithms, one
CPU thread, and a seeded generator for the shuffles; the same seed, torch
version and CPU give the same weights. Export uses torch.onnx's TorchScript
exporter (no onnxscript needed) with a dynamic batch axis, then writes the
``trigger.*`` metadata that tells the runtime how to feed the model.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

__all__ = ["OPSET", "deterministic", "export_onnx", "predict", "train"]

#: ONNX opset of the exported graphs.
OPSET = 17


def deterministic(seed: int) -> torch.Generator:
    """Seed torch, force deterministic kernels and one thread; returns a shuffle generator."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    return torch.Generator().manual_seed(seed)


def train(model: nn.Module, loss: Callable[[nn.Module, torch.Tensor, torch.Tensor | None], torch.Tensor],
          x: np.ndarray, y: np.ndarray | None = None, *, seed: int, epochs: int, batch_size: int = 512,
          learning_rate: float = 2e-3, on_epoch: Callable[[int, float], None] | None = None) -> list[float]:
    """Train with Adam and a cosine learning-rate decay; returns the mean loss per epoch.

    Args:
        model: The network (trained in place).
        loss: ``loss(model, x_batch, y_batch) -> scalar``.
        x: Inputs.
        y: Targets, or None (autoencoders).
        seed: Shuffle and initialization seed (see :func:`deterministic`).
        epochs: Passes over the data.
        batch_size: Events per step.
        learning_rate: Initial Adam step size.
        on_epoch: Called with (epoch, mean loss) after each epoch.
    """
    gen = deterministic(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x))
    yt = None if y is None else torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    steps = epochs * -(-len(xt) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    history: list[float] = []
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        total, count = 0.0, 0
        for lo in range(0, len(xt), batch_size):
            idx = order[lo:lo + batch_size]
            value = loss(model, xt[idx], None if yt is None else yt[idx])
            opt.zero_grad()
            value.backward()
            opt.step()
            sched.step()
            total += value.detach().item() * len(idx)
            count += len(idx)
        history.append(total / count)
        if on_epoch:
            on_epoch(epoch, history[-1])
    model.eval()
    return history


def predict(model: nn.Module, x: np.ndarray, *, batch_size: int = 65_536) -> np.ndarray:
    """Run ``model`` (its ``forward``) on ``x`` in chunks; float32 numpy out."""
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(np.ascontiguousarray(x[lo:lo + batch_size]))).numpy()
                               for lo in range(0, len(x), batch_size)] or [np.zeros(0, np.float32)])


def export_onnx(model: nn.Module, example: np.ndarray, path: str | Path, *, input_name: str,
                output_name: str, metadata: Mapping[str, str], doc: str) -> bytes:
    """Export ``model.forward`` to ONNX with a dynamic batch axis and ``trigger.*`` metadata.

    Args:
        model: The trained network.
        example: A few input rows (fixes every axis but the first).
        path: Output .onnx file.
        input_name: Graph input name (what the runtime's builder feeds).
        output_name: Graph output name.
        metadata: ``metadata_props`` to write (e.g. ``trigger.kind``, ``trigger.input``).
        doc: The graph's doc string.

    Returns:
        The bytes written (their sha256 is the pin).
    """
    model.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(model, (torch.from_numpy(example),), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[input_name], output_names=[output_name],
                          dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}})
    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = doc
    del proto.metadata_props[:]
    for key, value in sorted(metadata.items()):
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString(deterministic=True)
    Path(path).write_bytes(data)
    return data
