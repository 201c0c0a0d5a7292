"""Process samplers of the synthetic event generator, one function per process.

Each sampler (``multijet``, ``zmumu``, ``wenu``, ``ttbar``, ``exotic``) fills a
:class:`~trigger.io.physics.BlockObjects` for the block rows it is given;
``pileup_jets`` and ``stray_photons`` add to every event whatever its process.
Decays use the kinematics of :mod:`trigger.io.fourvec`.
"""

from __future__ import annotations

import numpy as np

from trigger.io.fourvec import (
    P4,
    breit_wigner,
    from_pt_y_phi,
    pt_eta_phi,
    two_body_decay,
    wrap_phi,
)
from trigger.io.physics import BlockObjects

__all__ = [
    "B_MASS_GEV",
    "ELECTRON_MASS_GEV",
    "MUON_MASS_GEV",
    "PROCESS_SAMPLERS",
    "exotic",
    "multijet",
    "pileup_jets",
    "stray_photons",
    "ttbar",
    "wenu",
    "zmumu",
]

MUON_MASS_GEV = 0.1056584
ELECTRON_MASS_GEV = 0.000511
B_MASS_GEV = 4.8


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


#: Process name -> sampler, in the order of :class:`trigger.io.generator_config.ProcessMix`.
PROCESS_SAMPLERS = {"multijet": multijet, "zmumu": zmumu, "wenu": wenu, "ttbar": ttbar, "exotic": exotic}
