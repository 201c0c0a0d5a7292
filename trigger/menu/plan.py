"""A compiled menu: per path seed, cuts and prescale, evaluated over a whole batch.

:func:`compile_menu` turns a validated :class:`~trigger.menu.model.Menu` into a
:class:`CompiledMenu`. Its :meth:`~CompiledMenu.evaluate` returns one boolean
column per path (``pass_<name>``); :meth:`~CompiledMenu.model_rows` tells the
engine on which events a model must run, so that expensive models only see
events that passed the seed (and prescale) of a path that uses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trigger.errors import MenuError, closest_names
from trigger.menu.expr import CompiledExpr, compile_expression
from trigger.menu.prescale import path_salt, prescale_mask

if TYPE_CHECKING:
    from trigger.features.frame import FeatureFrame
    from trigger.menu.model import Menu

__all__ = ["SUBSET_MAX_FRACTION", "CompiledMenu", "CompiledPath", "compile_menu"]

#: Cuts run on a copy of the seed-passing events when they are at most this
#: fraction of the batch; above it, copying costs more than it saves.
SUBSET_MAX_FRACTION = 0.5


@dataclass(frozen=True)
class CompiledPath:
    """One path, compiled.

    Attributes:
        name: Path name.
        seed: Compiled seed, or None (every event passes).
        cuts: Compiled cuts, ANDed.
        prescale: Keep 1 in N (0: disabled).
        salt: Prescale salt derived from the name (:func:`~trigger.menu.prescale.path_salt`).
        stream: Output stream.
        models: Models its cuts read.
    """

    name: str
    seed: CompiledExpr | None
    cuts: tuple[CompiledExpr, ...]
    prescale: int
    salt: int
    stream: str
    models: frozenset[str]


class CompiledMenu:
    """The executable form of a menu; every method is vectorized over a batch.

    Args:
        name: Menu name.
        version: Menu version.
        paths: Compiled paths, in menu order (the column order of every result).
        streams: Stream -> indices of its paths (declared streams first, in order).
    """

    def __init__(self, *, name: str, version: int, paths: Iterable[CompiledPath],
                 streams: Mapping[str, list[int]]) -> None:
        self.name = name
        self.version = version
        self.paths: tuple[CompiledPath, ...] = tuple(paths)
        #: Path names, in column order.
        self.path_names: tuple[str, ...] = tuple(p.name for p in self.paths)
        #: Decision column names, ``pass_<name>``.
        self.column_names: tuple[str, ...] = tuple(f"pass_{n}" for n in self.path_names)
        #: Stream -> indices of the paths writing to it.
        self.streams: dict[str, list[int]] = {k: list(v) for k, v in streams.items()}
        #: Models read by any path.
        self.models: frozenset[str] = frozenset().union(*(p.models for p in self.paths))
        # Cuts reading no feature and no collection (only model scores, which are set on
        # every event, or constants) cost one comparison on the whole batch: they run there,
        # so that their seeds do not enlarge the subset every other path's cuts run on.
        self._direct_cut_paths = [i for i, p in enumerate(self.paths)
                                  if p.cuts and not any(c.features or c.collections for c in p.cuts)]
        self._subset_cut_paths = [i for i, p in enumerate(self.paths)
                                  if p.cuts and i not in self._direct_cut_paths]
        #: Registered features read by any seed or cut.
        self.features: frozenset[str] = frozenset().union(
            *(e.features for p in self.paths for e in (*p.cuts, *([p.seed] if p.seed else []))))

    def __repr__(self) -> str:
        return f"CompiledMenu({self.name!r}, version={self.version}, paths={list(self.path_names)})"

    def _columns(self, frame: FeatureFrame, per_path: Any) -> np.ndarray:
        # One contiguous row per path, returned as its (n_events, n_paths) transposed
        # view: per-path writes and tests stay contiguous instead of strided.
        out = np.empty((len(self.paths), frame.n_events), dtype=bool)
        for i, path in enumerate(self.paths):
            out[i] = per_path(path)
        return out.T

    def seed_mask(self, frame: FeatureFrame) -> np.ndarray:
        """Seed decisions, shape (n_events, n_paths); a path without seed passes all."""
        return self._columns(frame, lambda p: True if p.seed is None else self._seed(frame, p))

    @staticmethod
    def _seed(frame: FeatureFrame, path: CompiledPath) -> np.ndarray:
        # Once per batch: a model's rows (model_rows) and the decisions (evaluate) both need it.
        # Shared: callers must not modify it in place.
        return frame.memo(f"plan.seed.{path.name}", lambda: path.seed(frame))  # type: ignore[misc]

    def prescale_mask(self, frame: FeatureFrame) -> np.ndarray:
        """Prescale decisions from the event identity, shape (n_events, n_paths)."""
        ids = [frame.column(c) for c in ("run", "luminosity_block", "event")]
        return self._columns(frame, lambda p: prescale_mask(*ids, prescale=p.prescale, salt=p.salt))

    def evaluate(self, frame: FeatureFrame, *, apply_prescale: bool = True) -> np.ndarray:
        """Path decisions: seed AND every cut AND (optionally) the prescale.

        Args:
            frame: The batch's features; scores of :attr:`models` must be set
                (NaN where a model did not run: NaN never passes a threshold).
            apply_prescale: False gives the decisions before prescaling (for rates).

        Returns:
            bool array of shape (n_events, n_paths), columns in :attr:`path_names` order.
        """
        out = self.seed_mask(frame)
        if apply_prescale:
            ids = None
            for i, path in enumerate(self.paths):
                if path.prescale != 1:  # prescale 1 keeps everything: nothing to hash
                    ids = ids or [frame.column(c) for c in ("run", "luminosity_block", "event")]
                    out[:, i] &= prescale_mask(*ids, prescale=path.prescale, salt=path.salt)
        for i in self._direct_cut_paths:
            for cut in self.paths[i].cuts:
                out[:, i] &= cut(frame)
        cut_paths = self._subset_cut_paths
        if not cut_paths:
            return out
        # Seeds are cheap and selective: run the cuts only on the events that
        # passed some seed (how a real HLT affords its expensive steps). Features
        # are per event, so a cut gives the same answer on the subset.
        candidates = out[:, cut_paths].any(axis=1)
        n_candidates = int(np.count_nonzero(candidates))
        if n_candidates == 0:
            return out
        if n_candidates <= SUBSET_MAX_FRACTION * frame.n_events:
            sub, rows = frame.subset(candidates), np.flatnonzero(candidates)
        else:
            sub, rows = frame, None
        for i in cut_paths:
            alive = out[:, i] if rows is None else out[rows, i]
            for cut in self.paths[i].cuts:
                if not alive.any():  # a disabled path or an empty seed needs no features
                    break
                alive = alive & cut(sub)
            if rows is None:
                out[:, i] = alive
            else:
                out[rows, i] = alive
        return out

    def model_rows(self, frame: FeatureFrame, model: str, *, apply_prescale: bool = True) -> np.ndarray:
        """Events on which ``model`` must run: they pass the seed (and prescale) of a path using it.

        Args:
            frame: The batch's features.
            model: A model name in :attr:`models`.
            apply_prescale: Also require the path's prescale to keep the event (an
                event the prescale drops cannot be accepted by that path anyway).

        Returns:
            bool array of shape (n_events,).

        Raises:
            MenuError: If no path of the menu uses ``model``.
        """
        users = [i for i, p in enumerate(self.paths) if model in p.models]
        if not users:
            raise MenuError(f"menu {self.name!r} uses no model {model!r}; it uses: "
                            f"{', '.join(sorted(self.models)) or 'none'}",
                            suggestions=closest_names(model, self.models))
        rows = np.zeros(frame.n_events, dtype=bool)
        for i in users:
            path = self.paths[i]
            keep = None if path.seed is None else self._seed(frame, path)  # shared: never modified here
            if apply_prescale and path.prescale != 1:  # prescale 1 keeps everything: nothing to hash
                ids = [frame.column(c) for c in ("run", "luminosity_block", "event")]
                kept = prescale_mask(*ids, prescale=path.prescale, salt=path.salt)
                keep = kept if keep is None else keep & kept
            if keep is None:
                return np.ones(frame.n_events, dtype=bool)  # a user without seed or prescale: every event
            rows |= keep
        return rows


def compile_menu(menu: Menu, *, registry: Mapping[str, Any] | Iterable[str] | None = None) -> CompiledMenu:
    """Compile every seed and cut of ``menu``.

    Args:
        menu: A validated menu (:func:`~trigger.menu.model.load_menu`).
        registry: Valid feature names; defaults to :data:`trigger.features.registry.FEATURES`.

    Returns:
        The compiled menu.

    Raises:
        MenuError: If an expression is invalid (with path, position and hints), a
            seed reads a model score (seeds must be cheap: they decide where models run),
            or the menu declares ``models:`` and a cut reads a score not declared there.
    """
    if registry is None:
        from trigger.features.registry import FEATURES  # lazy: see trigger.menu.expr

        registry = FEATURES
    names = frozenset(registry)
    where = f"menu {menu.source}, " if menu.source else ""
    paths = []
    for p in menu.paths:
        seed = None
        if p.seed is not None:
            seed = compile_expression(p.seed, registry=names, path=p.name, where=f"{where}seed")
            if seed.models:
                raise MenuError(f"{where}seed reads score.{min(seed.models)}: seeds decide where models "
                                "run, so they cannot use model scores; move it to 'cut'",
                                path=p.name, expression=seed.source)
        cuts = tuple(
            compile_expression(c, registry=names, path=p.name,
                               where=f"{where}cut" + (f"[{i}]" if len(p.cuts) > 1 else ""))
            for i, c in enumerate(p.cuts))
        models = frozenset().union(*(c.models for c in cuts))
        undeclared = sorted(models - set(menu.models)) if menu.models else []
        if undeclared:  # without a models section, scorers may come from code (tests, notebooks)
            raise MenuError(f"{where}cut reads score.{undeclared[0]} but `models:` declares only "
                            f"{', '.join(menu.models)}; declare it with its file and sha256",
                            path=p.name, suggestions=closest_names(undeclared[0], menu.models))
        paths.append(CompiledPath(p.name, seed, cuts, p.prescale, path_salt(p.name), p.stream, models))
    streams: dict[str, list[int]] = {s: [] for s in menu.streams}
    for i, p in enumerate(paths):
        streams.setdefault(p.stream, []).append(i)
    return CompiledMenu(name=menu.name, version=menu.version, paths=paths, streams=streams)
