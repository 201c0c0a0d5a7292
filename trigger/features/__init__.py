"""Arrow event batches -> vectorized numpy features and model tensors."""

from __future__ import annotations

from trigger.features.frame import (
    CollectionView,
    FeatureFrame,
    segment_count,
    segment_max,
    segment_sum,
)
from trigger.features.kinematics import invariant_mass
from trigger.features.l1_input import (
    L1_INPUT_NAMES,
    L1_LAYOUT,
    l1_input,
    merged_slots,
    object_matrix,
)
from trigger.features.registry import FEATURES, FeatureSpec, feature

__all__ = [
    "FEATURES",
    "L1_INPUT_NAMES",
    "L1_LAYOUT",
    "CollectionView",
    "FeatureFrame",
    "FeatureSpec",
    "feature",
    "invariant_mass",
    "l1_input",
    "merged_slots",
    "object_matrix",
    "segment_count",
    "segment_max",
    "segment_sum",
]
