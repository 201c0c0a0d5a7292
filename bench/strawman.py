"""The strawman: the shipped default menu as a plain per-event Python loop.

What a first implementation would look like: ``batch.to_pylist()`` and a loop
over events and objects. It implements exactly the cuts of
``trigger/menus/default.yaml`` so that its path counts can be checked against
the engine's (they must agree) before its speed is compared.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import pyarrow as pa

__all__ = ["PATHS", "strawman_counts"]

PATHS = (
    "HLT_IsoMu24", "HLT_Mu50", "HLT_DoubleMu_Zmass", "HLT_Ele32_WPTight", "HLT_DoubleEle25_Mass50",
    "HLT_Photon110EB", "HLT_PFHT1050", "HLT_PFMET120", "HLT_QuadPFJet70", "HLT_ZeroBias",
)
_M64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _prescaled(ev: dict[str, Any], name: str, n: int) -> bool:
    h = zlib.crc32(name.encode())
    for part in (ev["run"], ev["luminosity_block"], ev["event"]):
        h = _splitmix64(h ^ part)
    return h % n == 0


def _count(objs: list[dict[str, Any]], pt: float, eta: float = 99.0, iso: float = 99.0) -> int:
    return sum(1 for o in objs if o["pt"] > pt and abs(o["eta"]) < eta and o.get("iso", 0.0) < iso)


def _pair_mass(a: dict[str, Any], b: dict[str, Any]) -> float:
    e = px = py = pz = 0.0
    for o in (a, b):
        ox, oy, oz = o["pt"] * math.cos(o["phi"]), o["pt"] * math.sin(o["phi"]), o["pt"] * math.sinh(o["eta"])
        e += math.sqrt(ox * ox + oy * oy + oz * oz + o["mass"] ** 2)
        px, py, pz = px + ox, py + oy, pz + oz
    return math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))


def _decide(ev: dict[str, Any]) -> list[bool]:
    mu, el, ph, jets = ev["muons"], ev["electrons"], ev["photons"], ev["jets"]
    ht = sum(j["pt"] for j in jets if j["pt"] > 30 and abs(j["eta"]) < 2.5)
    met = ev["met_pt"]
    zmm = (
        _count(mu, 8) >= 2 and _count(mu, 17, 2.4) >= 1 and _count(mu, 8, 2.4) >= 2
        and mu[0]["charge"] * mu[1]["charge"] < 0 and 60 < _pair_mass(mu[0], mu[1]) < 120
    )
    return [
        _count(mu, 20) >= 1 and _count(mu, 24, 2.4, 0.15) >= 1,
        _count(mu, 40) >= 1 and _count(mu, 50, 2.4) >= 1,
        zmm,
        _count(el, 28) >= 1 and _count(el, 32, 2.5, 0.1) >= 1,
        _count(el, 20) >= 2 and _count(el, 25, 2.5) >= 2 and _pair_mass(el[0], el[1]) > 50,
        _count(ph, 90) >= 1 and _count(ph, 110, 1.48, 0.1) >= 1,
        ht > 800 and ht > 1050,
        met > 90 and met > 120,
        _count(jets, 50) >= 4 and _count(jets, 70, 2.4) >= 4,
        _prescaled(ev, "HLT_ZeroBias", 1000),
    ]


def strawman_counts(batch: pa.RecordBatch) -> tuple[list[int], int]:
    """Run the default menu event by event.

    Returns:
        Accepted events per path (in :data:`PATHS` order) and events kept.
    """
    counts = [0] * len(PATHS)
    kept = 0
    for ev in batch.to_pylist():
        bits = _decide(ev)
        for i, b in enumerate(bits):
            counts[i] += b
        kept += any(bits)
    return counts, kept
