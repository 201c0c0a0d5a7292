"""Choosing a path's model threshold for a target output rate.

The path's rate at threshold ``t`` is ``input_rate * passed(t) / events``,
where ``passed(t)`` counts the events the path accepts (seed, every cut,
prescale) when its cut reads ``score.<model> > t``. ``passed`` only falls as
``t`` rises, so the threshold is found by bisection over the distinct scores
seen: the lowest ``t`` whose rate is at most the target. The whole path is
re-evaluated at each step, so cuts that combine the score with other terms
(``score.m > t or ht > 1000``) are calibrated correctly.

Scores are computed once, by the same scorer and on the same rows as in the
engine (seed and prescale pass, event not quarantined). The batches are kept
in memory during calibration: give it a representative sample, not a run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from trigger.errors import ConfigError, MenuError
from trigger.features.frame import FeatureFrame
from trigger.menu.menu_text import format_threshold, threshold_pattern
from trigger.menu.model import Menu
from trigger.menu.plan import compile_menu
from trigger.schema import check_structure, find_bad_events

__all__ = ["Calibration", "calibrate_threshold", "path_models"]


@dataclass(frozen=True)
class Calibration:
    """The outcome of a calibration.

    Attributes:
        path: Trigger path.
        model: Model whose threshold was chosen.
        op: The cut's comparison (``>`` or ``>=``).
        threshold: The new threshold (a float32 value).
        previous: The threshold before.
        events: Events used.
        selected: Events the path accepts at the new threshold.
        input_rate_hz: Input rate the sample stands for.
        target_rate_hz: Requested output rate.
        rate_hz: Output rate at the new threshold.
        max_rate_hz: The path's rate with the score cut passing everything scored.
    """

    path: str
    model: str
    op: str
    threshold: float
    previous: float
    events: int
    selected: int
    input_rate_hz: float
    target_rate_hz: float
    rate_hz: float
    max_rate_hz: float

    @property
    def relative_uncertainty(self) -> float:
        """Statistical uncertainty of the rate from the number of selected events (1/sqrt(n))."""
        return 1.0 / math.sqrt(self.selected) if self.selected else math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {**self.__dict__, "threshold_text": format_threshold(self.threshold),
                "relative_uncertainty": self.relative_uncertainty}


def path_models(menu: Menu, path: str) -> frozenset[str]:
    """Models read by the cuts of ``path``.

    Raises:
        MenuError: No such path.
    """
    compiled = compile_menu(replace(menu, paths=tuple(p for p in menu.paths if p.name == path)))
    if not compiled.paths:
        raise MenuError(f"menu {menu.source}: no path named {path!r}; paths: "
                        f"{', '.join(p.name for p in menu.paths)}")
    return compiled.paths[0].models


def _with_threshold(menu: Menu, path: str, cut_index: int, model: str, text: str) -> Menu:
    p = next(q for q in menu.paths if q.name == path)
    cuts = list(p.cuts)
    cuts[cut_index] = threshold_pattern(model).sub(lambda m: m.group(0)[:m.start(2) - m.start(0)] + text,
                                                   cuts[cut_index], count=1)
    return replace(menu, paths=(replace(p, cuts=tuple(cuts)),))


def calibrate_threshold(menu: Menu, *, path: str, model: str | None, target_rate_hz: float,
                        input_rate_hz: float, batches: Iterable[pa.RecordBatch],
                        scorers: Mapping[str, Any]) -> Calibration:
    """Find the threshold of ``score.<model>`` in ``path`` giving ``target_rate_hz``.

    Args:
        menu: The menu.
        path: Trigger path to calibrate.
        model: The model (None: the path's only model).
        target_rate_hz: Wanted output rate of the path.
        input_rate_hz: Event rate the batches stand for.
        batches: Representative events.
        scorers: Model name -> scorer (at least ``model``).

    Returns:
        The calibration (the menu is not modified; see :mod:`trigger.menu.menu_text`).

    Raises:
        ConfigError: Bad rates, no events, or a target the path cannot reach.
        MenuError: No such path, an ambiguous or missing model threshold.
    """
    if not (0 < target_rate_hz <= input_rate_hz < math.inf):
        raise ConfigError(f"need 0 < target rate <= input rate, got target {target_rate_hz} Hz, "
                          f"input {input_rate_hz} Hz")
    used = path_models(menu, path)
    if model is None:
        if len(used) != 1:
            raise MenuError(f"path {path!r} reads {len(used)} models ({', '.join(sorted(used)) or 'none'}); "
                            "name the one to calibrate with --model", path=path)
        model = next(iter(used))
    elif model not in used:
        raise MenuError(f"path {path!r} does not read score.{model} (it reads: "
                        f"{', '.join(sorted(used)) or 'no model'})", path=path)
    p = next(q for q in menu.paths if q.name == path)
    sites = [(i, m) for i, cut in enumerate(p.cuts) for m in threshold_pattern(model).finditer(cut)]
    if len(sites) != 1:
        raise MenuError(f"path {path!r} needs exactly one cut term `score.{model} > NUMBER` to calibrate, "
                        f"found {len(sites)}", path=path)
    cut_index, match = sites[0]
    op, previous = match.group(1), float(match.group(2))
    compiled = compile_menu(replace(menu, paths=(p,)))
    frames: list[tuple[FeatureFrame, np.ndarray]] = []
    scored: list[np.ndarray] = []
    n_events = 0
    for i, batch in enumerate(batches):
        check_structure(batch.schema, batch=str(i))
        good = ~find_bad_events(batch).bad
        frame = FeatureFrame(batch)
        rows = compiled.model_rows(frame, model) & good
        scores = scorers[model].score(frame, rows)
        frame.set_score(model, scores)
        frames.append((frame, good))
        scored.append(scores[rows])
        n_events += batch.num_rows
    if not n_events:
        raise ConfigError("no events to calibrate on: give event files")
    seen = np.unique(np.concatenate(scored)) if scored else np.zeros(0, np.float32)
    seen = seen[np.isfinite(seen)]  # a NaN score never passes; it cannot be a threshold
    if seen.size == 0:
        raise ConfigError(f"no event of the {n_events:,} given passes the seed of path {path!r}, so "
                          f"score.{model} never ran: give more (or other) events")
    # Candidates: just below the lowest score (keep every scored event), then each distinct score.
    candidates = np.r_[np.nextafter(seen[0], np.float32(-np.inf)), seen].astype(np.float32)
    allowed = math.floor(target_rate_hz / input_rate_hz * n_events)

    def cut_at(value: np.float32) -> np.float32:  # the cut value equivalent to "score > value"
        return value if op == ">" else np.nextafter(value, np.float32(np.inf))

    def passed(value: np.float32) -> int:
        one = compile_menu(_with_threshold(menu, path, cut_index, model, format_threshold(value)))
        return sum(int(np.count_nonzero(one.evaluate(f)[:, 0] & good)) for f, good in frames)

    def rate(selected: int) -> float:
        return selected / n_events * input_rate_hz

    max_selected = passed(cut_at(candidates[0]))
    if max_selected < allowed:
        raise ConfigError(f"path {path!r} reaches at most {rate(max_selected):.4g} Hz on these {n_events:,} "
                          f"events at {input_rate_hz:g} Hz input, below the target {target_rate_hz:g} Hz; "
                          "loosen its seed or other cuts, or lower the target")
    if passed(cut_at(candidates[-1])) > allowed:
        raise ConfigError(f"path {path!r} cannot be brought down to {target_rate_hz:g} Hz by its "
                          f"score.{model} threshold: its other terms alone pass more events")
    lo, hi = 0, candidates.size - 1  # passed(hi) <= allowed: find the smallest such index
    while lo < hi:
        mid = (lo + hi) // 2
        if passed(cut_at(candidates[mid])) <= allowed:
            hi = mid
        else:
            lo = mid + 1
    threshold = cut_at(candidates[lo])
    selected = passed(threshold)
    return Calibration(path, model, op, float(threshold), previous, n_events, selected, input_rate_hz,
                       target_rate_hz, rate(selected), rate(max_selected))
