"""Finding model files and pinning them by sha256 (DESIGN.md, invariant 5).

A menu names a model file and its sha256. A relative file is looked up in the
menu's directory, then in each directory of ``TRIGGER_MODEL_PATH``
(``os.pathsep``-separated), then among the models shipped inside the package
(``trigger/models/``, so a non-editable install finds them too). The file is
read once; the bytes that are hashed are the bytes the session is built from,
so the file cannot change between the check and the load.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from trigger.errors import ModelError, closest_names
from trigger.inference.spec import ModelSpec

__all__ = ["MODEL_PATH_ENV", "PinnedModel", "model_search_path", "package_models_dir", "pin_models", "read_pinned",
           "resolve_model_file", "sha256_bytes", "sha256_file"]

#: Environment variable with extra model directories.
MODEL_PATH_ENV = "TRIGGER_MODEL_PATH"
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content.

    Raises:
        ModelError: If the file cannot be read.
    """
    try:
        return sha256_bytes(Path(path).read_bytes())
    except OSError as err:
        raise ModelError(f"cannot read model file {path}: {err.strerror or err}") from None


def package_models_dir() -> Path:
    """The directory of the models shipped with the package (``trigger/models``)."""
    return Path(str(resources.files("trigger") / "models"))


def model_search_path(*, menu_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Directories searched for a relative model file, in order.

    Args:
        menu_dir: Directory of the menu file (first), if the menu came from a file.

    Returns:
        menu_dir, then ``TRIGGER_MODEL_PATH`` entries, then the package's models.
    """
    dirs = [Path(menu_dir)] if menu_dir is not None else []
    dirs += [Path(p) for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p]
    dirs.append(package_models_dir())
    return dirs


def resolve_model_file(file: str | os.PathLike[str], *, menu_dir: str | os.PathLike[str] | None = None,
                       model: str = "?") -> Path:
    """Find a model file.

    Args:
        file: Absolute path, or a path relative to a directory of :func:`model_search_path`.
        menu_dir: Directory of the menu file.
        model: Model name, for messages.

    Returns:
        The existing file.

    Raises:
        ModelError: Nowhere to be found; the message lists every place tried.
    """
    path = Path(file).expanduser()
    candidates = [path] if path.is_absolute() else [d / path for d in model_search_path(menu_dir=menu_dir)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ModelError(f"model {model!r}: file {os.fspath(file)!r} not found; looked in: "
                     + ", ".join(str(c) for c in candidates)
                     + f" (relative files are searched beside the menu, in ${MODEL_PATH_ENV}, "
                     "then in the package's models)")


@dataclass(frozen=True)
class PinnedModel:
    """A model file whose bytes match the pinned hash.

    Attributes:
        name: Model name.
        path: The file.
        sha256: Its hex sha256 (equal to the pin).
        data: The ONNX bytes (hashed and loaded from this one read).
    """

    name: str
    path: Path
    sha256: str
    data: bytes


def read_pinned(path: str | os.PathLike[str], *, expected_sha256: str, model: str = "?",
                pinned_by: str = "the menu") -> PinnedModel:
    """Read a model file and refuse it unless its sha256 is the pinned one.

    Args:
        path: The model file.
        expected_sha256: The pin (64 hex digits, any case).
        model: Model name, for messages.
        pinned_by: Who pins it (e.g. ``"menu m.yaml"``), for messages.

    Returns:
        The pinned model, bytes included.

    Raises:
        ModelError: Unreadable file, malformed pin, or a hash mismatch naming the
            file and both hashes.
    """
    expected = expected_sha256.strip().lower()
    if not _HEX64.match(expected):
        raise ModelError(f"model {model!r}: sha256 pin {expected_sha256!r} in {pinned_by} is not 64 hex "
                         f"digits; put the hash of {path} there (`trigger models info {path}` prints it)")
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ModelError(f"model {model!r}: cannot read {path}: {err.strerror or err}") from None
    actual = sha256_bytes(data)
    if actual != expected:
        raise ModelError(f"model {model!r}: file {path} has sha256 {actual}, but {pinned_by} pins {expected}; "
                         "refusing to load it. If the model was retrained on purpose, put the new hash in "
                         "the menu; otherwise restore the pinned file")
    return PinnedModel(model, Path(path), actual, data)


def pin_models(specs: Mapping[str, ModelSpec], *, used: Iterable[str] | None = None,
               menu_source: str | None = None) -> dict[str, PinnedModel]:
    """Find the models a menu uses and check their sha256 pins, without starting ONNX Runtime.

    Args:
        specs: The menu's ``models:`` section.
        used: Models the menu's paths read (None: every declared model).
        menu_source: The menu file (its directory is searched first), or None.

    Returns:
        Model name -> its pinned bytes.

    Raises:
        ModelError: A used model is not declared, not found, or not the pinned file.
    """
    names = list(specs) if used is None else sorted(used)
    menu_dir = None
    if menu_source and os.path.isfile(menu_source):
        menu_dir = os.path.dirname(os.path.abspath(menu_source))
    pinned_by = f"menu {menu_source}" if menu_source else "the menu"
    out: dict[str, PinnedModel] = {}
    for name in names:
        if name not in specs:
            near = closest_names(name, specs)
            raise ModelError(f"the menu reads score.{name} but declares no model {name!r} under `models:`"
                             + (f" (did you mean {', '.join(map(repr, near))}?)" if near else "")
                             + "; add it with its file and sha256")
        path = resolve_model_file(specs[name].file, menu_dir=menu_dir, model=name)
        out[name] = read_pinned(path, expected_sha256=specs[name].sha256, model=name, pinned_by=pinned_by)
    return out
