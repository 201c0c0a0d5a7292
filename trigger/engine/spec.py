"""How a filter actor or an engine process builds its engine: from the menu's YAML text.

A filter actor may run on another node (another pod) than the driver, so it
gets the menu *text* and compiles it itself with the same function the local
replay uses (:func:`trigger.engine.load.load_engine`): the same menu text gives
the same compiled plan, hence bit-identical decisions. When the original file
is visible on the actor's node with the same content (sha256) it is loaded from
there, so that paths relative to the menu (model files) resolve as locally.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trigger.errors import ConfigError

__all__ = ["EngineSpec", "Throttled"]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """A picklable recipe for an engine: call it to build one.

    Attributes:
        menu_text: The menu YAML.
        menu_path: Where it was read from (absolute).
        sha256: Digest of ``menu_text``.
    """

    menu_text: str
    menu_path: str
    sha256: str

    @classmethod
    def from_menu(cls, menu_path: str | os.PathLike[str] | None) -> EngineSpec:
        """Read a menu file (the shipped default when None).

        Raises:
            ConfigError: If the file cannot be read.
        """
        from trigger.menu import default_menu_path

        path = Path(menu_path) if menu_path else default_menu_path()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read menu file {path}: {err.strerror or err}") from None
        return cls(text, str(path.resolve()), _sha256(text))

    def load(self) -> tuple[Any, str]:
        """Build the engine.

        Returns:
            The engine and the menu's name.
        """
        from trigger.engine.load import load_engine

        with self._menu_file() as path:
            return load_engine(path)

    def check(self) -> tuple[tuple[str, ...], str]:
        """Check the menu and its models' pins without building the engine (no ONNX Runtime).

        Returns:
            The menu's path names, in decision-column order, and its name.
        """
        from trigger.engine.load import check_engine

        with self._menu_file() as path:
            return check_engine(path)

    @contextlib.contextmanager
    def _menu_file(self) -> Iterator[str]:
        original = Path(self.menu_path)
        try:
            same = original.is_file() and _sha256(original.read_text(encoding="utf-8")) == self.sha256
        except OSError:
            same = False
        if same:
            yield str(original)
            return
        # Not visible (another node) or changed since: compile the text the driver read.
        with tempfile.TemporaryDirectory(prefix="trigger-menu-") as tmp:
            copy = Path(tmp) / original.name
            copy.write_text(self.menu_text, encoding="utf-8")
            yield str(copy)

    def __call__(self) -> Any:
        """Build the engine (an engine factory)."""
        return self.load()[0]


class _SlowEngine:
    """An engine that takes ``delay_s`` longer per batch (same decisions)."""

    def __init__(self, engine: Any, delay_s: float) -> None:
        self.engine, self.delay_s = engine, delay_s
        self.path_names = engine.path_names

    def process(self, batch: Any, *, batch_id: str, source: str | None = None) -> Any:
        time.sleep(self.delay_s)  # stands for work that does not use this CPU (a GPU, a remote service)
        return self.engine.process(batch, batch_id=batch_id, source=source)


@dataclass(frozen=True, slots=True)
class Throttled:
    """An engine factory whose engines spend ``delay_s`` more per batch, off the CPU.

    Emulates a heavier menu whose cost is on an accelerator (the filter waits),
    for capacity planning, benchmarks and fault-injection tests; the decisions
    are those of ``factory``'s engine.

    Attributes:
        factory: The real engine factory.
        delay_s: Extra seconds per batch.
    """

    factory: Any
    delay_s: float

    def __call__(self) -> Any:
        """Build the throttled engine."""
        return _SlowEngine(self.factory(), self.delay_s)
