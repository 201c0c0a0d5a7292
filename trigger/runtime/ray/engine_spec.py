"""The farm's engine factories; they live in :mod:`trigger.engine.spec` (engine processes use them too)."""

from __future__ import annotations

from trigger.engine.spec import EngineSpec, Throttled

__all__ = ["EngineSpec", "Throttled"]
