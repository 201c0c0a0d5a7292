"""Building an engine from a menu file: compile the menu, load the models it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trigger.engine.engine import Engine

__all__ = ["check_engine", "load_engine"]


def load_engine(menu_path: str | None) -> tuple[Any, str]:
    """Load and compile a menu (the shipped default when None) into an engine.

    The models the menu's paths read (``score.<model>``) are loaded from its
    ``models:`` section: found beside the menu, in ``$TRIGGER_MODEL_PATH`` or in
    the package, checked against their sha256 pins, and run by ONNX Runtime.

    Returns:
        The engine and the menu's name.

    Raises:
        MenuError: The menu does not compile.
        ModelError: A model is missing, not the pinned file, or cannot be fed.
    """
    from trigger.menu import compile_menu, default_menu_path, load_menu

    menu = load_menu(Path(menu_path) if menu_path else default_menu_path())
    compiled = compile_menu(menu)
    scorers: dict[str, Any] = {}
    if compiled.models:  # onnxruntime is imported only for menus that use models
        from trigger.inference import load_scorers

        scorers = load_scorers(menu.models, used=compiled.models, menu_source=menu.source)
    return Engine(compiled, scorers=scorers), menu.name


def check_engine(menu_path: str | None) -> tuple[tuple[str, ...], str]:
    """What :func:`load_engine` checks before it starts ONNX Runtime: the menu, and its models' pins.

    A replay that forks engine processes calls this first, so that a bad menu or
    model fails before any process starts, and loads the models only after the
    fork: ONNX Runtime sessions must not cross one.

    Returns:
        The menu's path names (the decision columns, in order) and its name.

    Raises:
        MenuError: The menu does not compile.
        ModelError: A model is missing or not the pinned file.
    """
    from trigger.inference.pinning import pin_models
    from trigger.menu import compile_menu, default_menu_path, load_menu

    menu = load_menu(Path(menu_path) if menu_path else default_menu_path())
    compiled = compile_menu(menu)
    if compiled.models:
        pin_models(menu.models, used=compiled.models, menu_source=menu.source)
    return compiled.path_names, menu.name
