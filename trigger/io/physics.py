"""The physics objects of one block of synthetic events, before acceptance.

The process samplers (:mod:`trigger.io.processes`: ``multijet``, ``zmumu``,
``wenu``, ``ttbar``, ``exotic``, plus pileup jets and stray photons) fill a
:class:`BlockObjects`; the generator then applies acceptance, sorts by pt and
builds the Arrow columns.
"""

from __future__ import annotations

import numpy as np

from trigger.io.fourvec import P4, pt_eta_phi

__all__ = ["BlockObjects"]


class BlockObjects:
    """Physics objects of one block of events, flat, before acceptance and sorting.

    Each collection gathers parts (one per call of :meth:`add`); every part is a
    dict of equal-length arrays including ``event`` (row index in the block).
    Invisible particles (neutrinos) only feed the missing transverse momentum.

    Args:
        n_events: Number of events in the block.
    """

    def __init__(self, n_events: int) -> None:
        self.n_events = n_events
        self.parts: dict[str, list[dict[str, np.ndarray]]] = {}
        self._invisible: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(
        self,
        collection: str,
        event: np.ndarray,
        *,
        pt_gev: np.ndarray,
        eta: np.ndarray,
        phi_rad: np.ndarray,
        mass_gev: np.ndarray | float,
        **extra: np.ndarray | float,
    ) -> None:
        """Append objects (extra fields: ``charge``, ``iso``, ``btag``; scalars broadcast)."""
        n = event.size
        cols = {"event": event, "pt": pt_gev, "eta": eta, "phi": phi_rad, "mass": mass_gev, **extra}
        self.parts.setdefault(collection, []).append(
            {k: np.broadcast_to(v, (n,)) for k, v in cols.items()}
        )

    def add_p4(self, collection: str, event: np.ndarray, p4: P4, *, mass_gev: float | np.ndarray,
               **extra: np.ndarray | float) -> None:
        """Append objects given as four-vectors."""
        pt, eta, phi = pt_eta_phi(p4)
        self.add(collection, event, pt_gev=pt, eta=eta, phi_rad=phi, mass_gev=mass_gev, **extra)

    def add_invisible(self, event: np.ndarray, p4: P4) -> None:
        """Record invisible particles: their transverse momentum becomes MET."""
        self._invisible.append((event, p4[0], p4[1]))

    def columns(self, collection: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Concatenate a collection's parts; fields a part lacks are 0.

        Args:
            collection: Collection name.
            names: Field names wanted besides ``event``.

        Returns:
            Flat arrays keyed by field name, plus ``event``.
        """
        parts = self.parts.get(collection, [])
        out: dict[str, np.ndarray] = {}
        for name in ("event", *names):
            chunks = [p[name] if name in p else np.zeros(p["event"].size) for p in parts]
            out[name] = np.concatenate(chunks) if chunks else np.zeros(0)
        out["event"] = out["event"].astype(np.int64, copy=False)
        return out

    def invisible_pxpy(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-event sum of invisible px and py in GeV (length ``n_events``)."""
        px = np.zeros(self.n_events)
        py = np.zeros(self.n_events)
        for event, ix, iy in self._invisible:
            px += np.bincount(event, weights=ix, minlength=self.n_events)
            py += np.bincount(event, weights=iy, minlength=self.n_events)
        return px, py

    def missing_pt(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """MET per event: invisible pt plus a resolution term growing with jet HT.

        Returns:
            (met_pt in GeV, met_phi in radians), float64, length ``n_events``.
        """
        px, py = self.invisible_pxpy()
        jets = self.parts.get("jets", [])
        ht = np.zeros(self.n_events)
        for p in jets:
            ht += np.bincount(p["event"], weights=p["pt"], minlength=self.n_events)
        # Calorimeter resolution ~ 0.5 sqrt(HT): what fakes MET in QCD multijet.
        sigma = 2.0 + 0.5 * np.sqrt(ht)
        px = px + sigma * rng.standard_normal(self.n_events)
        py = py + sigma * rng.standard_normal(self.n_events)
        return np.hypot(px, py), np.arctan2(py, px)
