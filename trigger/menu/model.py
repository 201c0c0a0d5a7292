"""Trigger menus: YAML in, validated dataclasses, and a compiled plan out.

A menu file::

    menu: default-v1
    version: 1
    streams: {Muon: {}, JetMET: {}}     # optional; when present, every path's stream must be declared
    models:                             # optional: the models paths read as score.<name>
      anomaly_ae: {file: anomaly_ae.onnx, sha256: 3f5c...}   # see trigger.inference.spec
    paths:
      - name: HLT_IsoMu24               # an identifier: it becomes the column pass_HLT_IsoMu24
        seed: "n_muons(pt > 20) >= 1"   # optional cheap pre-selection; no model scores
        cut: "n_muons(pt > 24 and iso < 0.15) >= 1"   # optional; a list of strings is ANDed
        prescale: 1                     # optional (default 1); 0 disables the path
        stream: Muon

A path accepts an event when seed AND every cut AND its prescale accept it.
Structural problems raise :class:`~trigger.errors.MenuError` naming the file,
the line and the path; an unreadable file or invalid YAML raises
:class:`~trigger.errors.ConfigError`. :meth:`Menu.to_yaml` writes paths and
keys in a fixed order (the order they were read), so a menu rewritten by
calibration diffs cleanly; YAML comments are not kept.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trigger.errors import ConfigError, MenuError, closest_names
from trigger.inference.spec import ModelSpec, parse_model_specs
from trigger.menu.plan import CompiledMenu, compile_menu

__all__ = ["CompiledMenu", "Menu", "PathConfig", "compile_menu", "default_menu_path", "load_menu"]

_TOP_KEYS = ("menu", "version", "streams", "models", "paths")
_PATH_KEYS = ("name", "seed", "cut", "prescale", "stream")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class PathConfig:
    """One trigger path as written in the menu.

    Attributes:
        name: Identifier; the decision column is ``pass_<name>``.
        seed: Cheap pre-selection expression, or None (all events).
        cuts: Cut expressions, ANDed (empty: no cut).
        prescale: Keep 1 in N accepted events; 1 keeps all, 0 disables the path.
        stream: Output stream the accepted events go to.
    """

    name: str
    seed: str | None
    cuts: tuple[str, ...]
    prescale: int
    stream: str


@dataclass(frozen=True)
class Menu:
    """A validated menu (not yet compiled; see :func:`compile_menu`).

    Attributes:
        name: Menu name, e.g. ``default-v1``.
        version: Integer version.
        paths: The paths, in file order.
        streams: Declared streams -> their configuration (empty if none declared).
        models: Declared models -> file, sha256 and session options (empty if none).
        source: Where the menu was read from, for messages (not compared).
    """

    name: str
    version: int
    paths: tuple[PathConfig, ...]
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False)

    def to_yaml(self) -> str:
        """The menu as YAML text that :func:`load_menu` reads back to an equal menu."""
        doc: dict[str, Any] = {"menu": self.name, "version": self.version}
        if self.streams:
            doc["streams"] = {k: dict(v) for k, v in self.streams.items()}
        if self.models:
            doc["models"] = {k: v.to_dict() for k, v in self.models.items()}
        doc["paths"] = []
        for p in self.paths:
            entry: dict[str, Any] = {"name": p.name}
            if p.seed is not None:
                entry["seed"] = p.seed
            if p.cuts:
                entry["cut"] = p.cuts[0] if len(p.cuts) == 1 else list(p.cuts)
            entry["prescale"] = p.prescale
            entry["stream"] = p.stream
            doc["paths"].append(entry)
        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1 << 16,
                              allow_unicode=True)


def default_menu_path() -> Path:
    """Path of the menu shipped with the package (``trigger/menus/default.yaml``)."""
    return Path(str(resources.files("trigger") / "menus" / "default.yaml"))


class _LineDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers its 1-based line, for messages."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a second ``cut:`` would silently win)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    out = _LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: mapping keys must be plain words")
        if key in out:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                              f"(the mapping starts at line {out.line}); keep one")
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _plain(obj: Any) -> Any:
    """Deep copy as plain dicts/lists (safe_dump refuses dict subclasses)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _read(path_or_text: str | os.PathLike[str]) -> tuple[str, str]:
    """Return (text, source name); a str with no newline naming a file or *.yaml is a path."""
    text = os.fspath(path_or_text)
    is_file = not isinstance(path_or_text, str) or (
        "\n" not in text and (text.endswith((".yaml", ".yml")) or os.path.isfile(text)))
    if not is_file:
        return text, "<text>"
    try:
        return Path(text).read_text(encoding="utf-8"), text
    except OSError as exc:
        raise ConfigError(f"cannot read menu file {text}: {exc.strerror or exc}") from None


class _Checker:
    """Validation helpers that prefix every message with the file and line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, message: str, *, at: Any = None, path: str | None = None) -> MenuError:
        line = f", line {at.line}" if isinstance(at, _LineDict) and at.line else ""
        return MenuError(f"menu {self.source}{line}: {message}", path=path)

    def keys(self, mapping: _LineDict, valid: tuple[str, ...], what: str, path: str | None = None) -> None:
        for key in mapping:
            if key not in valid:
                near = closest_names(str(key), valid, n=1)
                hint = f"; closest: {near[0]!r}" if near else ""
                raise self.fail(f"unknown key {key!r} in {what}; valid keys: {', '.join(valid)}{hint}",
                                at=mapping, path=path)

    def text(self, value: Any, what: str, *, at: Any, path: str | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{what} must be a non-empty string, found {type(value).__name__} "
                            f"{value!r} (quote it in YAML)", at=at, path=path)
        return value

    def identifier(self, value: Any, what: str, *, at: Any, path: str | None = None) -> str:
        value = self.text(value, what, at=at, path=path)
        if not _IDENTIFIER.match(value):
            raise self.fail(f"{what} {value!r} must be an identifier (letters, digits, _; not starting "
                            "with a digit): it becomes a column name", at=at, path=path)
        return value


def _streams(raw: Any, check: _Checker, at: _LineDict) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        raw = {name: {} for name in raw}
    if not isinstance(raw, dict):
        raise check.fail(f"streams must be a mapping name -> config, found {type(raw).__name__}", at=at)
    out: dict[str, dict[str, Any]] = {}
    for name, config in raw.items():
        check.identifier(name, "stream name", at=at)
        if config is not None and not isinstance(config, dict):
            raise check.fail(f"stream {name!r}: config must be a mapping (or {{}}), found {config!r}", at=at)
        out[name] = _plain(config or {})
    return out


def _path(entry: Any, index: int, streams: dict[str, Any], check: _Checker, at: _LineDict) -> PathConfig:
    if not isinstance(entry, dict):
        raise check.fail(f"paths[{index}] must be a mapping with keys {', '.join(_PATH_KEYS)}, "
                         f"found {entry!r}", at=at)
    label = entry["name"] if isinstance(entry.get("name"), str) else None
    # Unknown keys first: a misspelt 'nmae' should be reported as such, not as a missing name.
    check.keys(entry, _PATH_KEYS, f"path {label!r}" if label else f"paths[{index}]", path=label)
    if "name" not in entry:
        raise check.fail(f"paths[{index}] has no 'name'", at=entry)
    name = check.identifier(entry["name"], f"paths[{index}] name", at=entry)
    seed = entry.get("seed")
    if seed is not None:
        check.text(seed, "seed", at=entry, path=name)
    raw_cut = entry.get("cut")
    cuts = raw_cut if isinstance(raw_cut, list) else [] if raw_cut is None else [raw_cut]
    for i, cut in enumerate(cuts):
        check.text(cut, f"cut[{i}]" if isinstance(raw_cut, list) else "cut", at=entry, path=name)
    prescale = entry.get("prescale", 1)
    if isinstance(prescale, bool) or not isinstance(prescale, int) or prescale < 0:
        raise check.fail(f"prescale must be an integer >= 0 (1 keeps all, 0 disables the path), "
                         f"found {prescale!r}", at=entry, path=name)
    if "stream" not in entry:
        raise check.fail("missing key 'stream'" + (f"; declared streams: {', '.join(streams)}"
                                                   if streams else ""), at=entry, path=name)
    stream = check.identifier(entry["stream"], "stream", at=entry, path=name)
    if streams and stream not in streams:
        near = closest_names(stream, streams, n=1)
        raise check.fail(f"stream {stream!r} is not declared in 'streams' ({', '.join(streams)})"
                         + (f"; closest: {near[0]!r}" if near else ""), at=entry, path=name)
    return PathConfig(name, seed, tuple(cuts), prescale, stream)


def load_menu(path_or_text: str | os.PathLike[str]) -> Menu:
    """Read and validate a menu from a file path or from YAML text.

    Args:
        path_or_text: A path (``Path``, or a one-line str ending in .yaml/.yml or
            naming an existing file) or the YAML text itself.

    Returns:
        The validated menu (expressions are checked by :func:`compile_menu`).

    Raises:
        ConfigError: If the file cannot be read or is not valid YAML.
        MenuError: If the content does not follow the menu schema; the message
            names the file, the line and the path.
    """
    text, source = _read(path_or_text)
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"menu {source}: invalid YAML: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"menu {source}: {exc}") from None
    check = _Checker(source)
    if not isinstance(doc, dict):
        hint = " (if this is a file name, no such file exists)" if isinstance(doc, str) else ""
        raise check.fail(f"expected a mapping with keys {', '.join(_TOP_KEYS)}, "
                         f"found {type(doc).__name__}{hint}")
    check.keys(doc, _TOP_KEYS, "the menu")
    name = check.text(doc.get("menu"), "'menu' (the menu name)", at=doc)
    version = doc.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise check.fail(f"version must be an integer, found {version!r}", at=doc)
    streams = _streams(doc.get("streams"), check, doc)
    models = parse_model_specs(doc.get("models"), fail=lambda msg: check.fail(msg, at=doc.get("models")))
    raw_paths = doc.get("paths")
    if not isinstance(raw_paths, list) or not raw_paths:
        raise check.fail("'paths' must be a non-empty list of paths", at=doc)
    paths: list[PathConfig] = []
    for i, entry in enumerate(raw_paths):
        p = _path(entry, i, streams, check, doc)
        if any(q.name == p.name for q in paths):
            raise check.fail(f"duplicate path name {p.name!r} (paths[{i}]); path names must be unique",
                             at=entry, path=p.name)
        paths.append(p)
    return Menu(name, version, tuple(paths), streams, models, source=source)
