"""Training the shipped models (needs the ``train`` extra: PyTorch CPU, onnx, matplotlib).

Never imported by the runtime: the engine only reads the exported .onnx files
(:mod:`trigger.inference`). ``trigger models train`` is the entry point; the
recipes are in :mod:`trigger.models_train.recipes`. :mod:`.data`,
:mod:`.metrics` and :mod:`.evaluate` need numpy only.
"""

from __future__ import annotations

__all__: list[str] = []
