"""Named event-level features: name -> vectorized function of a FeatureFrame.

Every feature returns one float64 (or int64/bool) value per event and is
computed segment by segment (see :mod:`trigger.features.frame`), never with a
per-event Python loop. The menu compiler resolves bare names in cut
expressions against :data:`FEATURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trigger.features.frame import FeatureFrame

__all__ = ["FEATURES", "FeatureSpec", "feature"]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """A registered feature.

    Attributes:
        name: Name used in menu expressions.
        compute: Vectorized function of a frame, one value per event.
        unit: Unit of the value ('GeV', 'rad', '' for counts and flags).
        doc: One line saying what it is.
    """

    name: str
    compute: Callable[[FeatureFrame], np.ndarray]
    unit: str
    doc: str


FEATURES: dict[str, FeatureSpec] = {}


def feature(name: str, *, unit: str, doc: str) -> Callable[[Callable[[FeatureFrame], np.ndarray]], Callable[[FeatureFrame], np.ndarray]]:
    """Register ``fn`` as feature ``name`` (decorator)."""

    def register(fn: Callable[[FeatureFrame], np.ndarray]) -> Callable[[FeatureFrame], np.ndarray]:
        FEATURES[name] = FeatureSpec(name, fn, unit, doc)
        return fn

    return register

# Last, so that ``feature`` and ``FEATURES`` exist when kinematics registers into them.
from trigger.features import kinematics as _kinematics  # noqa: F401
