"""ONNX Runtime inference: pinned model files, sessions, and scorers for the engine.

The only package that imports onnxruntime. Names that need it (sessions,
scorers, the loader) are imported on first use, so reading a menu's
``models:`` section (:mod:`trigger.inference.spec`) does not load onnxruntime.

Typical use::

    from trigger.inference import load_scorers
    scorers = load_scorers(menu.models, used=compiled.models, menu_source=menu.source)
    engine = Engine(compiled, scorers=scorers)
"""

from __future__ import annotations

import importlib
from typing import Any

from trigger.inference.pinning import (
    MODEL_PATH_ENV,
    PinnedModel,
    model_search_path,
    package_models_dir,
    pin_models,
    read_pinned,
    resolve_model_file,
    sha256_bytes,
    sha256_file,
)
from trigger.inference.providers import (
    DEFAULT_PROVIDERS,
    PROVIDER_NAMES,
    ProviderReport,
    gpu_visible,
    normalize_providers,
)
from trigger.inference.spec import SCORER_KINDS, ModelSpec, parse_model_specs
from trigger.inference.validate import TensorSpec

__all__ = [
    "DEFAULT_PROVIDERS",
    "MODEL_PATH_ENV",
    "PROVIDER_NAMES",
    "SCORER_KINDS",
    "AnomalyScorer",
    "ClassifierScorer",
    "ModelScorer",
    "ModelSession",
    "ModelSpec",
    "PinnedModel",
    "ProviderReport",
    "SessionConfig",
    "TensorSpec",
    "gpu_visible",
    "load_scorer",
    "load_scorers",
    "model_search_path",
    "normalize_providers",
    "package_models_dir",
    "parse_model_specs",
    "pin_models",
    "read_pinned",
    "resolve_model_file",
    "scorer_for",
    "sha256_bytes",
    "sha256_file",
]

_LAZY = {
    "ModelSession": "trigger.inference.session",
    "SessionConfig": "trigger.inference.session",
    "AnomalyScorer": "trigger.inference.scorers",
    "ClassifierScorer": "trigger.inference.scorers",
    "ModelScorer": "trigger.inference.scorers",
    "scorer_for": "trigger.inference.scorers",
    "load_scorer": "trigger.inference.loader",
    "load_scorers": "trigger.inference.loader",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trigger.inference' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
