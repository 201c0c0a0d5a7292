"""Vectorized relativistic kinematics: four-vectors, boosts and two-body decays.

Four-vectors are tuples of numpy arrays ``(px, py, pz, e)`` in GeV, one entry per
particle, so every operation runs over a whole block of events at once. Decays
are done properly: the daughters of a two-body decay are generated isotropically
in the parent rest frame and boosted into the laboratory frame.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "P4",
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
