"""Held-out evaluation of a model: ROC AUC, efficiencies at fixed background rates, baselines.

The model is evaluated through the exported ONNX graph run by onnxruntime (the
runtime's own :class:`~trigger.inference.session.ModelSession`), so the card
describes the file that is shipped, not the PyTorch object it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from trigger.models_train.data import Sample
from trigger.models_train.metrics import (
    efficiency,
    roc_auc,
    roc_curve,
    threshold_at_rate,
)

__all__ = ["BASELINE_FEATURES", "RATES", "evaluate", "roc_points"]

#: Background fractions at which efficiencies are reported (1% is the headline).
RATES: tuple[float, ...] = (0.0003, 0.001, 0.003, 0.01)
#: Single-feature cuts every model is compared with.
BASELINE_FEATURES: tuple[str, ...] = ("ht", "met", "lep1_pt")


def _rate_key(fraction: float) -> str:
    return f"{fraction:g}"


def _seed_mask(sample: Sample, seed: str) -> np.ndarray:
    from trigger.features.registry import FEATURES
    from trigger.menu.expr import compile_expression

    expr = compile_expression(seed, registry=FEATURES)
    return np.concatenate([np.broadcast_to(np.asarray(expr(f), dtype=bool), (f.n_events,)) for f in sample.frames])


def evaluate(score: Callable[[np.ndarray], np.ndarray], background: Sample, signals: Mapping[str, Sample],
             *, background_components: Sequence[str] = (), seed: str | None = None) -> dict[str, Any]:
    """Score held-out samples and compute the card's metrics.

    Args:
        score: Model input -> scores (higher: more signal-like).
        background: Held-out background sample.
        signals: Process name -> held-out sample of that process only.
        background_components: Processes inside the background whose share above
            the 1% threshold is reported (e.g. ttbar in a standard-model mix).
        seed: A menu seed expression: also report the path "seed and score > t"
            at the same background rates (the model as a menu path runs it).

    Returns:
        JSON-ready metrics: per signal the AUC and the efficiency at each rate of
        :data:`RATES`, the thresholds, the single-feature baselines at the same
        rates, and the background composition above the 1% threshold.
    """
    sb = score(background.x)
    thresholds = {_rate_key(r): threshold_at_rate(sb, r) for r in RATES}
    out: dict[str, Any] = {"thresholds": thresholds, "signals": {}, "baselines": {}}
    scores = {}
    for name, sample in signals.items():
        se = score(sample.x)
        scores[name] = se
        out["signals"][name] = {
            "events": int(se.size),
            "roc_auc": round(roc_auc(sb, se), 5),
            "efficiency": {k: round(efficiency(se, t), 5) for k, t in thresholds.items()},
        }
    for feature in BASELINE_FEATURES:
        cuts = {_rate_key(r): threshold_at_rate(background.features[feature], r) for r in RATES}
        out["baselines"][feature] = {
            "thresholds": {k: round(v, 3) for k, v in cuts.items()},
            "efficiency": {name: {k: round(efficiency(s.features[feature], t), 5) for k, t in cuts.items()}
                           for name, s in signals.items()},
            "roc_auc": {name: round(roc_auc(background.features[feature], s.features[feature]), 5)
                        for name, s in signals.items()},
        }
    if seed is not None:
        passed = np.where(_seed_mask(background, seed), sb, -np.inf)
        cuts = {_rate_key(r): threshold_at_rate(passed, r) for r in RATES}
        out["seeded_path"] = {"seed": seed, "seed_background_fraction": round(float(np.mean(passed > -np.inf)), 5),
                              "efficiency": {name: {k: round(efficiency(np.where(_seed_mask(s, seed), scores[name],
                                                                                  -np.inf), t), 5)
                                                    for k, t in cuts.items()} for name, s in signals.items()}}
    one = thresholds[_rate_key(0.01)]
    out["background_above_1pct"] = {p: round(efficiency(sb[background.of(p)], one), 5)
                                    for p in background_components if background.of(p).any()}
    out["_scores"] = {"background": sb, **scores}  # for the plot; dropped from the card
    return out


def roc_points(background: np.ndarray, signal: np.ndarray, *, n_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A ROC curve thinned to about ``n_points`` points, log-spaced in background efficiency."""
    fpr, tpr = roc_curve(background, signal)
    grid = np.unique(np.r_[0.0, np.geomspace(1.0 / max(background.size, 1), 1.0, n_points)])
    # tpr at the largest fpr <= grid value (the curve is a staircase).
    idx = np.searchsorted(fpr, grid, side="right") - 1
    return grid, tpr[np.clip(idx, 0, tpr.size - 1)]
