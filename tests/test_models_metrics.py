"""Tests of the card metrics (numpy only): ROC, AUC, thresholds at a background rate."""

from __future__ import annotations

import numpy as np
import pytest

from trigger.models_train.evaluate import roc_points
from trigger.models_train.metrics import (
    efficiency,
    roc_auc,
    roc_curve,
    threshold_at_rate,
)


def test_auc_is_the_probability_that_signal_scores_higher():
    rng = np.random.default_rng(0)
    b, s = rng.normal(0, 1, 700).round(1), rng.normal(1, 1, 500).round(1)  # rounding makes ties
    brute = np.mean(s[:, None] > b[None, :]) + 0.5 * np.mean(s[:, None] == b[None, :])
    assert roc_auc(b, s) == pytest.approx(brute, abs=1e-12)
    assert roc_auc(np.zeros(4), np.ones(4)) == 1.0 and roc_auc(np.ones(4), np.zeros(4)) == 0.0


def test_roc_curve_runs_from_zero_to_one():
    fpr, tpr = roc_curve(np.array([0.1, 0.4, 0.35]), np.array([0.8, 0.4]))
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    x, y = roc_points(np.arange(1000.0), np.arange(1000.0) + 500)
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) >= 0)


def test_threshold_keeps_at_most_the_fraction_strictly_above():
    b = np.arange(1000, dtype=np.float64)
    t = threshold_at_rate(b, 0.01)
    assert t == 989 and efficiency(b, t) == 0.01
    ties = np.r_[np.zeros(990), np.full(10, 5.0)]
    assert efficiency(ties, threshold_at_rate(ties, 0.005)) == 0.0  # a tie group is kept whole or not at all
    assert threshold_at_rate(b, 1.0) == -np.inf
    with pytest.raises(ValueError):
        threshold_at_rate(np.array([]), 0.01)


def test_nan_scores_never_pass():
    s = np.array([np.nan, 2.0, np.nan, 0.5])
    assert efficiency(s, 1.0) == 0.25
    assert roc_auc(np.array([0.0, 1.0]), np.array([np.nan, np.nan])) == 0.0
