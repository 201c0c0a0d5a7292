"""Trigger menus: paths, cuts, prescales and streams (YAML) -> a compiled plan.

Cut expressions are compiled by a whitelisting AST walker (:mod:`trigger.menu.expr`),
never evaluated as Python; prescales are deterministic in the event identity
(:mod:`trigger.menu.prescale`).
"""

from __future__ import annotations

from trigger.menu.expr import CompiledExpr, compile_expression
from trigger.menu.model import Menu, PathConfig, default_menu_path, load_menu
from trigger.menu.plan import CompiledMenu, CompiledPath, compile_menu
from trigger.menu.prescale import path_salt, prescale_mask

__all__ = [
    "CompiledExpr",
    "CompiledMenu",
    "CompiledPath",
    "Menu",
    "PathConfig",
    "compile_expression",
    "compile_menu",
    "default_menu_path",
    "load_menu",
    "path_salt",
    "prescale_mask",
]
