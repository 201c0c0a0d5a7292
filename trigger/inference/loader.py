"""From a menu's ``models:`` section to ready scorers: find, pin, load, check.

Every step fails with a :class:`~trigger.errors.ModelError` that names the
model and the file: not found (with every place searched), a sha256 that is
not the pinned one (with both hashes), an input the scorer cannot feed, or a
GPU-only model that fell back to the CPU. The first two checks are
:func:`~trigger.inference.pinning.pin_models`, which needs no ONNX Runtime.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace

from trigger.inference.pinning import (
    PinnedModel,
    pin_models,
    read_pinned,
    resolve_model_file,
)
from trigger.inference.scorers import ModelScorer, scorer_for
from trigger.inference.session import ModelSession, SessionConfig
from trigger.inference.spec import ModelSpec

__all__ = ["load_scorer", "load_scorers", "session_config"]


def session_config(spec: ModelSpec, *, defaults: SessionConfig | None = None) -> SessionConfig:
    """``defaults`` (None: :class:`SessionConfig` defaults) with the options the menu sets for this model."""
    changes = {k: v for k, v in (("providers", spec.providers), ("batch_size", spec.batch_size),
                                 ("threads", spec.threads)) if v is not None}
    return replace(defaults or SessionConfig(), **changes)


def load_scorer(spec: ModelSpec, *, menu_dir: str | os.PathLike[str] | None = None,
                pinned_by: str = "the menu", defaults: SessionConfig | None = None) -> ModelScorer:
    """Load one model of a menu as a scorer.

    Args:
        spec: The menu's entry for the model.
        menu_dir: Directory of the menu file (relative files are looked up there first).
        pinned_by: Who pins the hash, for messages (e.g. ``"menu menus/anomaly.yaml"``).
        defaults: Session options the menu's entry overrides (None: the defaults).

    Raises:
        ModelError: See the module docstring.
    """
    path = resolve_model_file(spec.file, menu_dir=menu_dir, model=spec.name)
    pinned = read_pinned(path, expected_sha256=spec.sha256, model=spec.name, pinned_by=pinned_by)
    return _scorer(spec, pinned, defaults=defaults)


def _scorer(spec: ModelSpec, pinned: PinnedModel, *, defaults: SessionConfig | None) -> ModelScorer:
    session = ModelSession(pinned.data, name=spec.name, file=str(pinned.path),
                           config=session_config(spec, defaults=defaults))
    return scorer_for(session, kind=spec.kind)


def load_scorers(specs: Mapping[str, ModelSpec], *, used: Iterable[str] | None = None,
                 menu_source: str | None = None,
                 defaults: SessionConfig | None = None) -> dict[str, ModelScorer]:
    """Load the models a menu uses.

    Args:
        specs: The menu's ``models:`` section.
        used: Models the menu's paths read (None: load every declared model).
        menu_source: The menu file (its directory is searched first), or None.
        defaults: Session options the entries override (None: the defaults).

    Returns:
        Model name -> scorer.

    Raises:
        ModelError: A used model is not declared, or cannot be loaded.
    """
    pinned = pin_models(specs, used=used, menu_source=menu_source)
    return {name: _scorer(specs[name], model, defaults=defaults) for name, model in pinned.items()}
