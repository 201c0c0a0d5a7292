"""The ``models:`` section of a menu: model name -> file, sha256 and session options.

::

    models:
      anomaly_ae:
        file: anomaly_ae.onnx        # relative: beside the menu, $TRIGGER_MODEL_PATH, the package
        sha256: 3f5c...              # required: a different file refuses to load
        providers: [tensorrt, cuda, cpu]   # optional preference (default); without cpu, no CPU fallback
        batch_size: 65536            # optional: rows per onnxruntime call (larger inputs are chunked)
        threads: 1                   # optional: intra-op threads per session
        kind: anomaly                # optional: overrides the model's own trigger.kind metadata

A path reads the model's score as ``score.anomaly_ae``. This module only
validates the section (it imports no onnxruntime); :mod:`trigger.inference.loader`
builds the sessions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trigger.errors import ConfigError, closest_names
from trigger.inference.providers import normalize_providers

__all__ = ["MODEL_KEYS", "SCORER_KINDS", "ModelSpec", "parse_model_specs"]

#: Keys of one model entry, in the order :meth:`ModelSpec.to_dict` writes them.
MODEL_KEYS = ("file", "sha256", "providers", "batch_size", "threads", "kind")
#: Scorer kinds: how a model's input is built from a batch.
SCORER_KINDS = ("anomaly", "classifier")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")


@dataclass(frozen=True)
class ModelSpec:
    """One model as declared in a menu.

    Attributes:
        name: The name paths use in ``score.<name>``.
        file: Model file as written (absolute, or relative to the search path).
        sha256: Pinned hex sha256 (lower case).
        providers: Execution providers in preference order (short names), or None for the default.
        batch_size: Rows per onnxruntime call, or None for the default.
        threads: Intra-op threads, or None for the default.
        kind: Scorer kind overriding the model's metadata, or None.
    """

    name: str
    file: str
    sha256: str
    providers: tuple[str, ...] | None = None
    batch_size: int | None = None
    threads: int | None = None
    kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The entry as written in YAML (options left at their default are omitted)."""
        out: dict[str, Any] = {"file": self.file, "sha256": self.sha256}
        if self.providers is not None:
            out["providers"] = list(self.providers)
        for key in ("batch_size", "threads", "kind"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _positive_int(value: Any, what: str, fail: Callable[[str], Exception]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(f"{what} must be an integer >= 1, found {value!r}")
    return value


def _one(name: Any, entry: Any, fail: Callable[[str], Exception]) -> ModelSpec:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise fail(f"model name {name!r} must be an identifier (letters, digits, _): paths read it as "
                   "score.<name>")
    where = f"model {name!r}"
    if not isinstance(entry, Mapping):
        raise fail(f"{where} must be a mapping with keys {', '.join(MODEL_KEYS)}, found {entry!r}")
    for key in entry:
        if key not in MODEL_KEYS:
            near = closest_names(str(key), MODEL_KEYS, n=1)
            raise fail(f"unknown key {key!r} in {where}; valid keys: {', '.join(MODEL_KEYS)}"
                       + (f"; closest: {near[0]!r}" if near else ""))
    file = entry.get("file")
    if not isinstance(file, str) or not file.strip():
        raise fail(f"{where} needs 'file': the .onnx path (relative to the menu's directory or the "
                   "model search path)")
    sha = entry.get("sha256")
    if not isinstance(sha, str) or not _HEX64.match(sha.strip()):
        raise fail(f"{where} needs 'sha256': the 64 hex digits of the file's hash (found {sha!r}); "
                   f"`trigger models info {file}` prints it")
    providers = entry.get("providers")
    if providers is not None:
        if isinstance(providers, str):
            providers = [providers]
        if not isinstance(providers, list):
            raise fail(f"{where}: providers must be a list such as [cuda, cpu], found {providers!r}")
        try:
            providers = normalize_providers(providers)
        except ConfigError as err:
            raise fail(f"{where}: {err}") from None
    kind = entry.get("kind")
    if kind is not None and kind not in SCORER_KINDS:
        raise fail(f"{where}: kind must be one of {', '.join(SCORER_KINDS)}, found {kind!r}")
    return ModelSpec(name, file.strip(), sha.strip().lower(), providers,
                     _positive_int(entry.get("batch_size"), f"{where}: batch_size", fail),
                     _positive_int(entry.get("threads"), f"{where}: threads", fail), kind)


def parse_model_specs(raw: Any, *, fail: Callable[[str], Exception]) -> dict[str, ModelSpec]:
    """Validate a menu's ``models:`` section.

    Args:
        raw: The parsed YAML value (None when the section is absent).
        fail: Builds the exception to raise from a message (the menu loader adds
            the file and line).

    Returns:
        Model name -> spec, in file order (empty if ``raw`` is None).

    Raises:
        Exception: Whatever ``fail`` returns, for any invalid entry.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise fail(f"'models' must be a mapping name -> {{file, sha256, ...}}, found {type(raw).__name__}")
    return {name: _one(name, entry, fail) for name, entry in raw.items()}
