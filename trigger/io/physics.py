"""Vectorized relativistic kinematics for the synthetic event generator.

Four-vectors are tuples of numpy arrays ``(px, py, pz, e)`` in GeV, one entry per
particle, so every operation runs over a whole block of events at once. Decays
are done properly: the daughters of a two-body decay are generated isotropically
in the parent rest frame and boosted into the laboratory frame.

The process samplers (``multijet``, ``zmumu``, ``wenu``, ``ttbar``, ``exotic``,
plus pileup jets and stray photons) fill a :class:`BlockObjects`; the generator
then applies acceptance, sorts by pt and builds the Arrow columns.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "B_MASS_GEV",
    "ELECTRON_MASS_GEV",
    "MUON_MASS_GEV",
    "P4",
    "PROCESS_SAMPLERS",
    "BlockObjects",
    "exotic",
    "multijet",
    "pileup_jets",
    "stray_photons",
    "ttbar",
    "wenu",
    "zmumu",
    "boost",
    "breit_wigner",
    "from_pt_y_phi",
    "invariant_mass",
    "pt_eta_phi",
    "two_body_decay",
    "wrap_phi",
]

#: A four-vector per particle: (px, py, pz, e) in GeV.
P4 = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

MUON_MASS_GEV = 0.1056584
ELECTRON_MASS_GEV = 0.000511
B_MASS_GEV = 4.8


def wrap_phi(phi_rad: np.ndarray) -> np.ndarray:
    """Wrap azimuthal angles into [-pi, pi)."""
    return np.remainder(phi_rad + np.pi, 2.0 * np.pi) - np.pi


def breit_wigner(
    rng: np.random.Generator,
    n: int,
    *,
    mass_gev: float,
    width_gev: float,
    low_gev: float,
    high_gev: float,
) -> np.ndarray:
    """Sample a (non-relativistic) Breit-Wigner truncated to [low, high].

    Inverse-CDF sampling of a Cauchy distribution restricted to the window, so
    there is no rejection loop and the draw count is fixed (determinism).

    Args:
        rng: Random generator.
        n: Number of samples.
        mass_gev: Pole mass.
        width_gev: Full width at half maximum.
        low_gev: Lower truncation.
        high_gev: Upper truncation.

    Returns:
        float64 masses in GeV.
    """
    half = 0.5 * width_gev
    lo = np.arctan((low_gev - mass_gev) / half)
    hi = np.arctan((high_gev - mass_gev) / half)
    return mass_gev + half * np.tan(rng.uniform(lo, hi, n))


def from_pt_y_phi(pt_gev: np.ndarray, y: np.ndarray, phi_rad: np.ndarray, mass_gev: np.ndarray) -> P4:
    """Build four-vectors from transverse momentum, rapidity, azimuth and mass."""
    mt = np.sqrt(pt_gev * pt_gev + mass_gev * mass_gev)
    return (pt_gev * np.cos(phi_rad), pt_gev * np.sin(phi_rad), mt * np.sinh(y), mt * np.cosh(y))


def pt_eta_phi(p4: P4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (pt in GeV, pseudorapidity, phi in [-pi, pi]) of four-vectors."""
    px, py, pz, _ = p4
    pt = np.hypot(px, py)
    # A particle along the beam has no defined eta; the floor keeps it finite
    # (such particles fail every acceptance cut anyway).
    eta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    return pt, eta, np.arctan2(py, px)


def invariant_mass(*p4s: P4) -> np.ndarray:
    """Invariant mass in GeV of the sum of one or more four-vectors (elementwise)."""
    px = sum(p[0] for p in p4s)
    py = sum(p[1] for p in p4s)
    pz = sum(p[2] for p in p4s)
    e = sum(p[3] for p in p4s)
    return np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))


def boost(p4: P4, parent: P4, parent_mass_gev: np.ndarray) -> P4:
    """Boost rest-frame four-vectors into the frame where the parent has ``parent``.

    Args:
        p4: Four-vectors in the parent rest frame.
        parent: The parent's laboratory four-vector.
        parent_mass_gev: The parent's mass (more precise than from ``parent``).

    Returns:
        The laboratory four-vectors.
    """
    qx, qy, qz, qe = p4
    gamma = parent[3] / parent_mass_gev
    bx, by, bz = parent[0] / parent[3], parent[1] / parent[3], parent[2] / parent[3]
    bp = bx * qx + by * qy + bz * qz
    # (gamma - 1) / beta^2 written as gamma^2 / (gamma + 1): no 0/0 at rest.
    g2 = gamma * gamma / (gamma + 1.0)
    k = g2 * bp + gamma * qe
    return (qx + k * bx, qy + k * by, qz + k * bz, gamma * (qe + bp))


def two_body_decay(
    rng: np.random.Generator,
    parent: P4,
    parent_mass_gev: np.ndarray,
    m1_gev: float | np.ndarray,
    m2_gev: float | np.ndarray,
) -> tuple[P4, P4]:
    """Decay each parent isotropically into two daughters of the given masses.

    Args:
        rng: Random generator.
        parent: Laboratory four-vectors of the parents.
        parent_mass_gev: Parent masses (must exceed ``m1 + m2``).
        m1_gev: First daughter mass.
        m2_gev: Second daughter mass.

    Returns:
        The two daughters' laboratory four-vectors.
    """
    m = parent_mass_gev
    n = m.size
    p_sq = (m * m - (m1_gev + m2_gev) ** 2) * (m * m - (m1_gev - m2_gev) ** 2)
    p_star = np.sqrt(np.maximum(p_sq, 0.0)) / (2.0 * m)
    cos_t = rng.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t * cos_t)
    phi = rng.uniform(-np.pi, np.pi, n)
    qx, qy, qz = p_star * sin_t * np.cos(phi), p_star * sin_t * np.sin(phi), p_star * cos_t
    e1 = np.sqrt(p_star * p_star + m1_gev * m1_gev)
    e2 = np.sqrt(p_star * p_star + m2_gev * m2_gev)
    d1 = boost((qx, qy, qz, e1), parent, m)
    d2 = boost((-qx, -qy, -qz, e2), parent, m)
    return d1, d2


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


# ---- process samplers: each fills ``out`` for the block rows in ``event`` ----


def _sign(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.integers(0, 2, n, dtype=np.int8) * 2 - 1).astype(np.int8)


def _iso_prompt(rng: np.random.Generator, n: int) -> np.ndarray:
    # Prompt leptons are isolated: relative isolation well below 0.15.
    return np.minimum(rng.exponential(0.03, n), 0.149)


def _iso_in_jet(rng: np.random.Generator, n: int) -> np.ndarray:
    # Leptons from heavy-flavour decays sit inside jets: mostly above 0.15.
    return 0.08 + rng.exponential(0.4, n)


def _eta(rng: np.random.Generator, n: int, half_width: float) -> np.ndarray:
    # Triangular on [-w, w]: central-peaked like real jets, always inside w.
    return half_width * (rng.random(n) + rng.random(n) - 1.0)


def _phi(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-np.pi, np.pi, n)


def _take(p4: P4, sel: np.ndarray) -> P4:
    return (p4[0][sel], p4[1][sel], p4[2][sel], p4[3][sel])


def _add_jets(rng: np.random.Generator, out: BlockObjects, event: np.ndarray, pt: np.ndarray,
              eta: np.ndarray, phi: np.ndarray, *, b: bool | np.ndarray = False) -> None:
    n = event.size
    u = rng.random(n)
    # b jets: discriminant mostly near 1 (~70% above 0.8); light: mostly near 0 (~3%).
    btag = np.where(b, 1.0 - 0.5 * u**2.5, u**8)
    out.add("jets", event, pt_gev=pt, eta=eta, phi_rad=phi,
            mass_gev=pt * rng.uniform(0.03, 0.15, n), btag=btag)


def _add_parton_jets(rng: np.random.Generator, out: BlockObjects, event: np.ndarray, p4: P4,
                     *, b: bool = False) -> None:
    pt, eta, phi = pt_eta_phi(p4)
    _add_jets(rng, out, event, pt, eta, phi, b=b)


def _add_leptons(out: BlockObjects, event: np.ndarray, p4: P4, *, charge: np.ndarray,
                 is_muon: np.ndarray, iso: np.ndarray) -> None:
    pt, eta, phi = pt_eta_phi(p4)
    for coll, sel, mass in (("muons", is_muon, MUON_MASS_GEV), ("electrons", ~is_muon, ELECTRON_MASS_GEV)):
        out.add(coll, event[sel], pt_gev=pt[sel], eta=eta[sel], phi_rad=phi[sel], mass_gev=mass,
                charge=charge[sel], iso=iso[sel])


def _recoil_jets(rng: np.random.Generator, out: BlockObjects, event: np.ndarray,
                 boson_pt: np.ndarray, boson_phi: np.ndarray) -> None:
    n = event.size
    # One jet balances the boson; soft ones (below the jet threshold) are dropped later.
    phi = wrap_phi(boson_phi + np.pi + rng.uniform(-0.4, 0.4, n))
    _add_jets(rng, out, event, boson_pt * rng.uniform(0.6, 1.2, n), _eta(rng, n, 4.0), phi)
    isr = np.repeat(event, rng.poisson(0.6, n))
    m = isr.size
    _add_jets(rng, out, isr, 20.0 + rng.exponential(20.0, m), _eta(rng, m, 4.5), _phi(rng, m))


def _boson(rng: np.random.Generator, n: int, *, mass_gev: float, width_gev: float, low_gev: float,
           high_gev: float, pt_mean_gev: float) -> tuple[P4, np.ndarray, np.ndarray, np.ndarray]:
    m = breit_wigner(rng, n, mass_gev=mass_gev, width_gev=width_gev, low_gev=low_gev, high_gev=high_gev)
    pt, phi = rng.exponential(pt_mean_gev, n), _phi(rng, n)
    return from_pt_y_phi(pt, rng.normal(0.0, 1.2, n), phi, m), m, pt, phi


def multijet(rng: np.random.Generator, event: np.ndarray, out: BlockObjects) -> None:
    """QCD multijet: a pt^-5 dijet plus radiation; 15% bb with semileptonic decays."""
    n = event.size
    pt1 = np.minimum(25.0 * (1.0 - rng.random(n)) ** -0.25, 3000.0)
    phi1 = _phi(rng, n)
    pt2 = pt1 * rng.uniform(0.7, 1.0, n)
    phi2 = wrap_phi(phi1 + np.pi + rng.uniform(-0.3, 0.3, n))
    eta1, eta2 = _eta(rng, n, 4.5), _eta(rng, n, 4.5)
    heavy = rng.random(n) < 0.15
    _add_jets(rng, out, event, pt1, eta1, phi1, b=heavy)
    _add_jets(rng, out, event, pt2, eta2, phi2, b=heavy)
    k = rng.poisson(1.2, n)
    m = int(k.sum())
    _add_jets(rng, out, np.repeat(event, k), np.repeat(pt1, k) * rng.uniform(0.1, 0.6, m),
              _eta(rng, m, 4.5), _phi(rng, m))
    # Semileptonic b decays: a soft, non-isolated lepton close to a b jet.
    hf = np.flatnonzero(heavy)
    ev = np.concatenate([event[hf], event[hf]])
    jpt, jeta, jphi = (np.concatenate([a[hf], b[hf]]) for a, b in ((pt1, pt2), (eta1, eta2), (phi1, phi2)))
    s = rng.random(ev.size) < 0.3
    m = int(s.sum())
    lpt = jpt[s] * rng.uniform(0.05, 0.4, m)
    leta = jeta[s] + rng.uniform(-0.1, 0.1, m)
    lphi = wrap_phi(jphi[s] + rng.uniform(-0.1, 0.1, m))
    p4 = from_pt_y_phi(lpt, leta, lphi, np.zeros(m))  # massless: rapidity == eta
    _add_leptons(out, ev[s], p4, charge=_sign(rng, m), is_muon=rng.random(m) < 0.5,
                 iso=_iso_in_jet(rng, m))


def zmumu(rng: np.random.Generator, event: np.ndarray, out: BlockObjects) -> None:
    """Drell-Yan Z -> mu mu (Breit-Wigner 91.19 GeV, width 2.5) plus recoil jets."""
    n = event.size
    z, m, zpt, zphi = _boson(rng, n, mass_gev=91.19, width_gev=2.5, low_gev=50.0, high_gev=150.0,
                             pt_mean_gev=12.0)
    mu1, mu2 = two_body_decay(rng, z, m, MUON_MASS_GEV, MUON_MASS_GEV)
    q = _sign(rng, n)
    muon = np.ones(n, dtype=bool)
    _add_leptons(out, event, mu1, charge=q, is_muon=muon, iso=_iso_prompt(rng, n))
    _add_leptons(out, event, mu2, charge=-q, is_muon=muon, iso=_iso_prompt(rng, n))
    _recoil_jets(rng, out, event, zpt, zphi)


def wenu(rng: np.random.Generator, event: np.ndarray, out: BlockObjects) -> None:
    """W -> e nu: an isolated electron on the Jacobian peak (~40 GeV) and real MET."""
    n = event.size
    w, m, wpt, wphi = _boson(rng, n, mass_gev=80.38, width_gev=2.09, low_gev=40.0, high_gev=150.0,
                             pt_mean_gev=8.0)
    e, nu = two_body_decay(rng, w, m, ELECTRON_MASS_GEV, 0.0)
    _add_leptons(out, event, e, charge=_sign(rng, n), is_muon=np.zeros(n, dtype=bool),
                 iso=_iso_prompt(rng, n))
    out.add_invisible(event, nu)
    _recoil_jets(rng, out, event, wpt, wphi)


def ttbar(rng: np.random.Generator, event: np.ndarray, out: BlockObjects) -> None:
    """Top pairs: t -> W b; each W -> (e|mu) nu with probability 0.3, else two jets."""
    n = event.size
    pt1, phi1 = rng.exponential(100.0, n), _phi(rng, n)
    pt2 = pt1 * rng.uniform(0.7, 1.3, n)
    phi2 = wrap_phi(phi1 + np.pi + rng.uniform(-0.5, 0.5, n))
    for sign, pt, phi in ((1, pt1, phi1), (-1, pt2, phi2)):
        mt = breit_wigner(rng, n, mass_gev=172.5, width_gev=1.4, low_gev=150.0, high_gev=195.0)
        top = from_pt_y_phi(pt, rng.normal(0.0, 1.2, n), phi, mt)
        mw = breit_wigner(rng, n, mass_gev=80.38, width_gev=2.09, low_gev=60.0, high_gev=100.0)
        w, b = two_body_decay(rng, top, mt, mw, B_MASS_GEV)
        _add_parton_jets(rng, out, event, b, b=True)
        d1, d2 = two_body_decay(rng, w, mw, 0.0, 0.0)
        lep = rng.random(n) < 0.3
        is_mu = rng.random(n) < 0.5
        k = int(lep.sum())
        _add_leptons(out, event[lep], _take(d1, lep), charge=np.full(k, sign, dtype=np.int8),
                     is_muon=is_mu[lep], iso=_iso_prompt(rng, k))
        out.add_invisible(event[lep], _take(d2, lep))
        _add_parton_jets(rng, out, event[~lep], _take(d1, ~lep))
        _add_parton_jets(rng, out, event[~lep], _take(d2, ~lep))
    isr = np.repeat(event, rng.poisson(1.0, n))
    _add_jets(rng, out, isr, 20.0 + rng.exponential(30.0, isr.size), _eta(rng, isr.size, 4.5),
              _phi(rng, isr.size))


def exotic(rng: np.random.Generator, event: np.ndarray, out: BlockObjects) -> None:
    """A 1 TeV resonance X -> Z Z -> four leptons (each Z to ee or mu mu)."""
    n = event.size
    x, mx, xpt, xphi = _boson(rng, n, mass_gev=1000.0, width_gev=10.0, low_gev=900.0,
                              high_gev=1100.0, pt_mean_gev=30.0)
    mz = [breit_wigner(rng, n, mass_gev=91.19, width_gev=2.5, low_gev=60.0, high_gev=120.0)
          for _ in range(2)]
    for z, m in zip(two_body_decay(rng, x, mx, mz[0], mz[1]), mz, strict=True):
        is_mu = rng.random(n) < 0.5
        ml = np.where(is_mu, MUON_MASS_GEV, ELECTRON_MASS_GEV)
        l1, l2 = two_body_decay(rng, z, m, ml, ml)
        q = _sign(rng, n)
        _add_leptons(out, event, l1, charge=q, is_muon=is_mu, iso=_iso_prompt(rng, n))
        _add_leptons(out, event, l2, charge=-q, is_muon=is_mu, iso=_iso_prompt(rng, n))
    _recoil_jets(rng, out, event, xpt, xphi)


def pileup_jets(rng: np.random.Generator, n_events: int, mean_jets: float, out: BlockObjects) -> None:
    """Soft jets from pileup, Poisson(mean_jets) in every event, flat in |eta| < 4.7."""
    ev = np.repeat(np.arange(n_events), rng.poisson(mean_jets, n_events))
    m = ev.size
    _add_jets(rng, out, ev, 15.0 + rng.exponential(6.0, m), rng.uniform(-4.7, 4.7, m), _phi(rng, m))


def stray_photons(rng: np.random.Generator, n_events: int, probability: float, out: BlockObjects) -> None:
    """Occasional photons (half prompt and isolated, half from jets), any process."""
    ev = np.flatnonzero(rng.random(n_events) < probability)
    m = ev.size
    iso = np.where(rng.random(m) < 0.5, _iso_prompt(rng, m), _iso_in_jet(rng, m))
    out.add("photons", ev, pt_gev=10.0 + rng.exponential(15.0, m), eta=rng.uniform(-2.5, 2.5, m),
            phi_rad=_phi(rng, m), mass_gev=0.0, charge=0, iso=iso)


#: Process name -> sampler, in the order of :class:`trigger.io.generator.ProcessMix`.
PROCESS_SAMPLERS = {"multijet": multijet, "zmumu": zmumu, "wenu": wenu, "ttbar": ttbar, "exotic": exotic}
