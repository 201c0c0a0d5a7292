"""Classifier metrics in numpy: ROC curve, AUC, thresholds at a background rate.

Conventions: a higher score is more signal-like, an event passes when
``score > threshold`` (the menu's ``score.<model> > X``), NaN never passes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["efficiency", "roc_auc", "roc_curve", "threshold_at_rate"]


def _clean(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).ravel()
    return np.where(np.isnan(s), -np.inf, s)  # NaN never passes a threshold


def threshold_at_rate(background: np.ndarray, fraction: float) -> float:
    """The lowest threshold at which at most ``fraction`` of ``background`` passes.

    Args:
        background: Background scores.
        fraction: Allowed passing fraction, in [0, 1].

    Returns:
        ``t`` with ``mean(background > t) <= fraction`` (equality when no ties).

    Raises:
        ValueError: Empty background or a fraction outside [0, 1].
    """
    b = np.sort(_clean(background))
    if b.size == 0 or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"need a non-empty background and 0 <= fraction <= 1, got {b.size} events, {fraction}")
    k = int(np.floor(fraction * b.size + 1e-9))  # events allowed above the threshold
    if k >= b.size:
        return float(-np.inf)
    return float(b[b.size - k - 1])


def efficiency(scores: np.ndarray, threshold: float) -> float:
    """Fraction of ``scores`` strictly above ``threshold`` (0 for no events)."""
    s = _clean(scores)
    return float(np.count_nonzero(s > threshold) / s.size) if s.size else 0.0


def roc_curve(background: np.ndarray, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Background and signal efficiencies for every distinct threshold.

    Returns:
        (background efficiency, signal efficiency), both rising from 0 to 1
        as the threshold falls, one point per distinct score plus (0, 0).
    """
    b, s = _clean(background), _clean(signal)
    values = np.concatenate([b, s])
    is_sig = np.concatenate([np.zeros(b.size, bool), np.ones(s.size, bool)])
    order = np.argsort(-values, kind="stable")
    values, is_sig = values[order], is_sig[order]
    tp = np.cumsum(is_sig)
    fp = np.cumsum(~is_sig)
    last = np.r_[np.flatnonzero(values[1:] != values[:-1]), values.size - 1]  # end of each tie group
    fpr = np.r_[0.0, fp[last] / max(b.size, 1)]
    tpr = np.r_[0.0, tp[last] / max(s.size, 1)]
    return fpr, tpr


def roc_auc(background: np.ndarray, signal: np.ndarray) -> float:
    """Area under the ROC curve: P(signal score > background score), ties count 1/2."""
    fpr, tpr = roc_curve(background, signal)
    # Trapezoids on the curve = Mann-Whitney U with ties as 1/2.
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
