"""The event-level kinematic features, registered in :data:`~trigger.features.registry.FEATURES`.

Conventions:

* One value per event, float64 (counts are int64; flags are 1.0/0.0 float64).
* A property of an absent object (``mu2_pt`` in a one-muon event) is 0.0, and
  so are the masses, angles and flags that need more objects than the event has:
  cuts like ``mu2_pt > 10`` then simply fail.
* Jets for ``ht``/``mht``: pt > 30 GeV and |eta| < 2.5. b-jets: btag > 0.5 and
  pt > 30 GeV (any eta).
* "Leptons" are muons and electrons merged by pt; on equal pt the muon leads.
* Every reduction is per event (``reduceat`` on each event's own segment, or
  arithmetic on per-event leading objects), never a running sum across the
  batch, so a value is bit-identical whatever batch the event is in
  (DESIGN.md, invariant 2).

Four-vectors are built in float64 from the float32 (pt, eta, phi, mass):
``px = pt cos phi``, ``py = pt sin phi``, ``pz = pt sinh eta``,
``E = sqrt(pt^2 + pz^2 + m^2)``; a negative ``m^2`` from rounding is clipped to 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trigger.features.frame import FeatureFrame, segment_count, segment_sum
from trigger.features.l1_input import object_matrix
from trigger.features.registry import feature

__all__ = [
    "BJET_MIN_BTAG",
    "BJET_MIN_PT_GEV",
    "HT_JET_MAX_ABS_ETA",
    "HT_JET_MIN_PT_GEV",
    "LEPTONS",
    "invariant_mass",
]

HT_JET_MIN_PT_GEV = 30.0
HT_JET_MAX_ABS_ETA = 2.5
BJET_MIN_PT_GEV = 30.0
BJET_MIN_BTAG = 0.5
#: Lepton collections in tie-break order.
LEPTONS: tuple[str, ...] = ("muons", "electrons")

# ---------------------------------------------------------------- counts


def _count(collection: str) -> Callable[[FeatureFrame], np.ndarray]:
    return lambda frame: frame.collection(collection).counts


for _name, _coll, _what in (
    ("n_muons", "muons", "muons"),
    ("n_electrons", "electrons", "electrons"),
    ("n_photons", "photons", "photons"),
    ("n_jets", "jets", "jets (all, no pt or eta cut)"),
):
    feature(_name, unit="", doc=f"number of {_what}")(_count(_coll))
del _name, _coll, _what


@feature("n_leptons", unit="", doc="number of muons plus electrons")
def n_leptons(frame: FeatureFrame) -> np.ndarray:
    return frame["n_muons"] + frame["n_electrons"]


@feature("n_bjets", unit="", doc="number of jets with btag > 0.5 and pt > 30 GeV")
def n_bjets(frame: FeatureFrame) -> np.ndarray:
    jets = frame.collection("jets")
    tagged = (jets.field("btag") > BJET_MIN_BTAG) & (jets.field("pt") > BJET_MIN_PT_GEV)
    return segment_count(tagged, jets.offsets)


# ---------------------------------------------------------------- leading objects

_LABEL = {"muons": "muon", "electrons": "electron", "photons": "photon", "jets": "jet"}
_UNIT = {"pt": "GeV", "eta": "", "phi": "rad", "iso": ""}
_ORDINAL = ("leading", "second", "third", "fourth")


def _nth(collection: str, field: str, k: int) -> Callable[[FeatureFrame], np.ndarray]:
    return lambda frame: frame.collection(collection).nth(field, k)


for _name, _coll, _field, _k in (
    ("mu1_pt", "muons", "pt", 0),
    ("mu1_eta", "muons", "eta", 0),
    ("mu1_phi", "muons", "phi", 0),
    ("mu2_pt", "muons", "pt", 1),
    ("mu2_eta", "muons", "eta", 1),
    ("mu1_iso", "muons", "iso", 0),
    ("e1_pt", "electrons", "pt", 0),
    ("e1_eta", "electrons", "eta", 0),
    ("e1_phi", "electrons", "phi", 0),
    ("e2_pt", "electrons", "pt", 1),
    ("e1_iso", "electrons", "iso", 0),
    ("pho1_pt", "photons", "pt", 0),
    ("pho1_eta", "photons", "eta", 0),
    ("jet1_pt", "jets", "pt", 0),
    ("jet1_eta", "jets", "eta", 0),
    ("jet2_pt", "jets", "pt", 1),
    ("jet4_pt", "jets", "pt", 3),
):
    feature(
        _name,
        unit=_UNIT[_field],
        doc=f"{_field} of the {_ORDINAL[_k]} {_LABEL[_coll]} (0 if absent)",
    )(_nth(_coll, _field, _k))
del _name, _coll, _field, _k


@feature("lep1_pt", unit="GeV", doc="pt of the leading lepton, max(mu1_pt, e1_pt) (0 if none)")
def lep1_pt(frame: FeatureFrame) -> np.ndarray:
    # max(mu1_pt, e1_pt) taken in float32 and widened once: the same values, without the two
    # float64 arrays (the anomaly path's seed reads it on every event).
    muons, electrons = frame.collection("muons"), frame.collection("electrons")
    return np.maximum(muons.leading("pt"), electrons.leading("pt")).astype(np.float64)


# ---------------------------------------------------------------- event sums


def _ht_jets(frame: FeatureFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The jets that count for HT, compressed: (flat jet index, pt float64, offsets per event).

    Shared by ``ht`` and ``mht``. The index comes from ``flatnonzero`` and a
    ``take``: boolean-mask indexing of the ~350k jets of a batch cost 5x more.
    """

    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        jets = frame.collection("jets")
        pt = jets.field("pt")
        selected = (pt > HT_JET_MIN_PT_GEV) & (np.abs(jets.field("eta")) < HT_JET_MAX_ABS_ETA)
        before = np.zeros(selected.size + 1, dtype=np.int64)
        np.cumsum(selected, out=before[1:])  # integer: exact
        index = np.flatnonzero(selected)
        return index, pt.take(index).astype(np.float64), before[jets.offsets]

    return frame.memo("kinematics.ht_jets", compute)


#: Below this total, a float64 running sum of HT jets' pt is exact (see :func:`ht`).
_EXACT_SUM_BELOW_GEV = 2.0**33


@feature("ht", unit="GeV", doc="scalar sum of jet pt, jets with pt > 30 GeV and |eta| < 2.5")
def ht(frame: FeatureFrame) -> np.ndarray:
    _, pt, offsets = _ht_jets(frame)
    # A float32 pt above 16 GeV is a multiple of 2**-19, so every partial sum
    # below 2**33 GeV is a float64 without rounding: differences of one running
    # sum equal each event's own sum bit for bit, as a per-event reduceat would
    # give (batch-independent), at half the cost.
    running = np.zeros(pt.size + 1, dtype=np.float64)
    np.cumsum(pt, out=running[1:])
    if HT_JET_MIN_PT_GEV >= 16.0 and running[-1] < _EXACT_SUM_BELOW_GEV:
        return running[offsets[1:]] - running[offsets[:-1]]
    return segment_sum(pt, offsets)


@feature("mht", unit="GeV", doc="magnitude of the negative vector sum of the pt of the ht jets")
def mht(frame: FeatureFrame) -> np.ndarray:
    index, pt, offsets = _ht_jets(frame)
    phi = frame.collection("jets").field("phi").take(index).astype(np.float64)
    return np.hypot(segment_sum(pt * np.cos(phi), offsets), segment_sum(pt * np.sin(phi), offsets))


@feature("met", unit="GeV", doc="missing transverse momentum (met_pt)")
def met(frame: FeatureFrame) -> np.ndarray:
    return frame.column("met_pt").astype(np.float64)


@feature("met_phi", unit="rad", doc="azimuth of the missing transverse momentum")
def met_phi(frame: FeatureFrame) -> np.ndarray:
    return frame.column("met_phi").astype(np.float64)


# ---------------------------------------------------------------- masses and pairs


def invariant_mass(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Invariant mass of the sum of k >= 1 objects per event.

    Args:
        pt: ``(n_events, k)`` transverse momenta in GeV.
        eta: ``(n_events, k)`` pseudorapidities.
        phi: ``(n_events, k)`` azimuths in rad.
        mass: ``(n_events, k)`` masses in GeV.

    Returns:
        float64 masses in GeV, one per event (``m^2 < 0`` from rounding gives 0).
    """
    pt, eta, phi, mass = (np.asarray(a, dtype=np.float64) for a in (pt, eta, phi, mass))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(pt * pt + pz * pz + mass * mass)
    # Column by column, in object order: each event's sum is its own.
    sums = [a[:, 0].copy() for a in (energy, px, py, pz)]
    for j in range(1, pt.shape[1]):
        for total, a in zip(sums, (energy, px, py, pz)):
            total += a[:, j]
    e, sx, sy, sz = sums
    return np.sqrt(np.clip(e * e - (sx * sx + sy * sy + sz * sz), 0.0, None))


_P4_FIELDS = ("pt", "eta", "phi", "mass")


def _mass_where(objects: np.ndarray, n_have: np.ndarray, k: int) -> np.ndarray:
    """Invariant mass of the first k of ``objects`` (n_events, >= k, 4 fields) where n_have >= k, else 0.

    Only the events that have k objects pay for the trigonometry.
    """
    rows = np.flatnonzero(n_have >= k)
    out = np.zeros(n_have.size, dtype=np.float64)
    block = objects[rows, :k]
    out[rows] = invariant_mass(block[..., 0], block[..., 1], block[..., 2], block[..., 3])
    return out


def _leading_pair_mass(frame: FeatureFrame, collection: str) -> np.ndarray:
    """Invariant mass of the two leading objects of one collection, 0 if fewer."""
    view = frame.collection(collection)
    rows = np.flatnonzero(view.counts >= 2)
    first = view.offsets[:-1][rows]
    pair = [np.stack([view.field(f)[first], view.field(f)[first + 1]], axis=1) for f in _P4_FIELDS]
    out = np.zeros(view.n_events, dtype=np.float64)
    out[rows] = invariant_mass(*pair)
    return out


def _leptons(frame: FeatureFrame) -> np.ndarray:
    """The four leading leptons (muons and electrons merged by pt): float32 (n_events, 4, pt/eta/phi/mass)."""
    return frame.memo(
        "kinematics.leptons",
        lambda: object_matrix(frame, collections=LEPTONS, n_objects=4, fields=_P4_FIELDS),
    )


@feature("dimuon_mass", unit="GeV", doc="invariant mass of the two leading muons (0 if fewer than 2)")
def dimuon_mass(frame: FeatureFrame) -> np.ndarray:
    return _leading_pair_mass(frame, "muons")


@feature("dielectron_mass", unit="GeV", doc="invariant mass of the two leading electrons (0 if fewer than 2)")
def dielectron_mass(frame: FeatureFrame) -> np.ndarray:
    return _leading_pair_mass(frame, "electrons")


@feature("dilepton_mass", unit="GeV", doc="invariant mass of the two leading leptons, any flavour (0 if fewer than 2)")
def dilepton_mass(frame: FeatureFrame) -> np.ndarray:
    return _mass_where(_leptons(frame), frame["n_leptons"], 2)


@feature("fourlepton_mass", unit="GeV", doc="invariant mass of the four leading leptons, any flavour (0 if fewer than 4)")
def fourlepton_mass(frame: FeatureFrame) -> np.ndarray:
    return _mass_where(_leptons(frame), frame["n_leptons"], 4)


def _opposite_charge(frame: FeatureFrame, collection: str) -> np.ndarray:
    view = frame.collection(collection)
    # An absent object has charge 0, so the product is 0: not opposite.
    return (view.nth("charge", 0) * view.nth("charge", 1) < 0).astype(np.float64)


@feature("dimuon_os", unit="", doc="1.0 if the two leading muons have opposite charge, else 0.0")
def dimuon_os(frame: FeatureFrame) -> np.ndarray:
    return _opposite_charge(frame, "muons")


@feature("dielectron_os", unit="", doc="1.0 if the two leading electrons have opposite charge, else 0.0")
def dielectron_os(frame: FeatureFrame) -> np.ndarray:
    return _opposite_charge(frame, "electrons")


@feature("mt_lep_met", unit="GeV", doc="transverse mass of the leading lepton and MET (0 if no lepton)")
def mt_lep_met(frame: FeatureFrame) -> np.ndarray:
    use_muon = frame["mu1_pt"] >= frame["e1_pt"]  # ties: the muon leads, as in the merge
    phi = np.where(use_muon, frame["mu1_phi"], frame["e1_phi"])
    mt2 = 2.0 * frame["lep1_pt"] * frame["met"] * (1.0 - np.cos(phi - frame["met_phi"]))
    return np.sqrt(np.clip(mt2, 0.0, None))


@feature("dphi_jet12", unit="rad", doc="|delta phi| of the two leading jets in [0, pi] (0 if fewer than 2)")
def dphi_jet12(frame: FeatureFrame) -> np.ndarray:
    jets = frame.collection("jets")
    dphi = np.abs(jets.nth("phi", 0) - jets.nth("phi", 1)) % (2.0 * np.pi)
    dphi = np.where(dphi > np.pi, 2.0 * np.pi - dphi, dphi)
    return np.where(jets.counts >= 2, dphi, 0.0)
