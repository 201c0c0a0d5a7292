"""The filter farm on Ray (the only package that imports ``ray``).

Source actors dispatch batches (object-store references) straight to filter
actors under credit-based flow control; filter actors run the same engine as
the local runtime and hand kept rows to sink actors that write idempotently by
batch id; the driver is control plane only (ledger, summary, metrics, scaling).
See :mod:`trigger.runtime.ray.driver`.

Names are imported lazily: ``trigger.runtime.ray.scaling`` and
``trigger.runtime.ray.config`` work (and test) without importing Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "EngineSpec",
    "FarmConfig",
    "FarmReplay",
    "FixedPolicy",
    "LatencyBudgetPolicy",
    "PoolMetrics",
    "ScaleDecision",
    "ScalingPolicy",
    "default_policy",
]

_WHERE = {
    "EngineSpec": "engine_spec",
    "FarmConfig": "config",
    "FarmReplay": "driver",
    "default_policy": "driver",
    "FixedPolicy": "scaling",
    "LatencyBudgetPolicy": "scaling",
    "PoolMetrics": "scaling",
    "ScaleDecision": "scaling",
    "ScalingPolicy": "scaling",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
