"""A peer: the shipped default menu as an idiomatic awkward-array analysis.

What a physicist would write after ``ak.from_arrow(batch)``: boolean masks
on jagged collections, ``ak.sum(mask, axis=1)`` for object counts,
``ak.num`` and ``ak.pad_none`` for the leading pair, ``ak.any`` to combine
paths, and ``events[keep]`` for the kept events. Columnar and vectorized
like the engine, but with awkward's general machinery instead of the
engine's purpose-built passes over the Arrow buffers.

It implements exactly the cuts of ``trigger/menus/default.yaml`` (see
:mod:`.strawman` for the same menu as a per-event loop) so that its path
counts are checked against the engine's before its speed is compared. The
prescale uses the same identity hash as the engine (:mod:`trigger.menu.prescale`):
a deterministic prescale is part of the menu, not of the implementation style.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa

from trigger.menu.prescale import path_salt, prescale_mask
from trigger.schema import event_schema

__all__ = ["PATHS", "awkward_bits", "awkward_counts", "awkward_select"]

PATHS = (
    "HLT_IsoMu24", "HLT_Mu50", "HLT_DoubleMu_Zmass", "HLT_Ele32_WPTight", "HLT_DoubleEle25_Mass50",
    "HLT_Photon110EB", "HLT_PFHT1050", "HLT_PFMET120", "HLT_QuadPFJet70", "HLT_ZeroBias",
)

_EVENT_COLUMNS = frozenset(event_schema(with_raw=True).names)


def _n(objs: Any, pt_gev: float, max_abs_eta: float | None = None, max_iso: float | None = None) -> Any:
    """Objects per event above ``pt_gev`` (and inside |eta|, below iso): ``ak.sum`` of a mask."""
    mask = objs.pt > pt_gev
    if max_abs_eta is not None:
        mask = mask & (abs(objs.eta) < max_abs_eta)
    if max_iso is not None:
        mask = mask & (objs.iso < max_iso)
    return ak.sum(mask, axis=1)


def _leading_pair_mass(objs: Any) -> Any:
    """Invariant mass of the two leading objects (0 where fewer than two), in float64."""
    pair = ak.pad_none(objs, 2, axis=1, clip=True)
    a, b = pair[:, 0], pair[:, 1]
    px = py = pz = e = 0.0
    for o in (a, b):
        pt, eta, phi, m = (ak.values_astype(o[f], np.float64) for f in ("pt", "eta", "phi", "mass"))
        ox, oy, oz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        e = e + np.sqrt(pt * pt + oz * oz + m * m)
        px, py, pz = px + ox, py + oy, pz + oz
    mass = np.sqrt(np.maximum(e * e - (px * px + py * py + pz * pz), 0.0))
    return ak.fill_none(mass, 0.0)


def _opposite_charge(objs: Any) -> Any:
    pair = ak.pad_none(objs.charge, 2, axis=1, clip=True)
    return ak.fill_none(pair[:, 0] * pair[:, 1] < 0, False)


def awkward_bits(events: Any) -> np.ndarray:
    """Trigger bits of the default menu for awkward events.

    Args:
        events: ``ak.from_arrow(batch)`` of event-model rows.

    Returns:
        ``(n_events, len(PATHS))`` booleans.
    """
    mu, el, ph, jets = events.muons, events.electrons, events.photons, events.jets
    ht_jets = jets[(jets.pt > 30) & (abs(jets.eta) < 2.5)]
    ht = ak.sum(ak.values_astype(ht_jets.pt, np.float64), axis=1)
    met = ak.values_astype(events.met_pt, np.float64)
    mu_mass, el_mass = _leading_pair_mass(mu), _leading_pair_mass(el)
    zero_bias = prescale_mask(ak.to_numpy(events.run), ak.to_numpy(events.luminosity_block),
                              ak.to_numpy(events.event), prescale=1000, salt=path_salt("HLT_ZeroBias"))
    paths = [
        (_n(mu, 20) >= 1) & (_n(mu, 24, 2.4, 0.15) >= 1),
        (_n(mu, 40) >= 1) & (_n(mu, 50, 2.4) >= 1),
        (_n(mu, 8) >= 2) & (_n(mu, 17, 2.4) >= 1) & (_n(mu, 8, 2.4) >= 2) & _opposite_charge(mu)
        & (mu_mass > 60) & (mu_mass < 120),
        (_n(el, 28) >= 1) & (_n(el, 32, 2.5, 0.1) >= 1),
        (_n(el, 20) >= 2) & (_n(el, 25, 2.5) >= 2) & (el_mass > 50),
        (_n(ph, 90) >= 1) & (_n(ph, 110, 1.48, 0.1) >= 1),
        (ht > 800) & (ht > 1050),
        (met > 90) & (met > 120),
        (_n(jets, 50) >= 4) & (_n(jets, 70, 2.4) >= 4),
        zero_bias,
    ]
    return np.stack([np.asarray(ak.to_numpy(p), dtype=bool) for p in paths], axis=1)


def awkward_select(batch: pa.RecordBatch) -> tuple[np.ndarray, Any]:
    """The whole peer on one batch: convert, decide, take the kept events.

    Returns:
        The trigger bits and the kept events (an awkward array, raw payload included).
    """
    # Event-model columns only (raw included): awkward 2.14 cannot convert the generator's int8-indexed
    # dictionary label column (``process``), and an analysis reads the columns it knows anyway.
    events = ak.from_arrow(batch.select([n for n in batch.schema.names if n in _EVENT_COLUMNS]))
    bits = awkward_bits(events)
    return bits, events[bits.any(axis=1)]


def awkward_counts(batch: pa.RecordBatch) -> tuple[list[int], int]:
    """Run the default menu with awkward on one batch.

    Returns:
        Accepted events per path (in :data:`PATHS` order) and events kept.
    """
    bits, kept = awkward_select(batch)
    return bits.sum(axis=0).tolist(), len(kept)
