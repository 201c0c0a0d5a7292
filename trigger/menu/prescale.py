"""Deterministic prescales: keep 1 event in N as a function of the event identity.

A prescale must not depend on arrival order, batch size or worker count
(DESIGN.md, invariant 2), so instead of a counter it hashes
``(salt, run, luminosity_block, event)`` with splitmix64 mixing and keeps an
event when the hash is a multiple of N. The salt comes from the path name
(:func:`path_salt`, a CRC-32: stable across processes, unlike :func:`hash`), so
two paths with the same prescale keep independent subsets of events.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["path_salt", "prescale_mask", "splitmix64"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer, elementwise on uint64 (wrap-around intended).

    Args:
        x: uint64 array.

    Returns:
        A new uint64 array of well-mixed values.
    """
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MUL1
        z = (z ^ (z >> np.uint64(27))) * _MUL2
        return z ^ (z >> np.uint64(31))


def path_salt(name: str) -> int:
    """A stable per-path salt: CRC-32 of the UTF-8 path name."""
    return zlib.crc32(name.encode("utf-8"))


def prescale_mask(
    run: np.ndarray,
    lumi: np.ndarray,
    event: np.ndarray,
    *,
    prescale: int,
    salt: int,
) -> np.ndarray:
    """Which events a path with prescale N keeps (about 1 in N).

    The decision for an event depends only on its identity and ``salt``, so a
    batch and any of its slices agree event by event.

    Args:
        run: Run numbers (any integer dtype), one per event.
        lumi: Luminosity block numbers, one per event.
        event: Event numbers, one per event.
        prescale: N; 1 keeps every event, 0 disables the path (keeps none).
        salt: Per-path salt, e.g. :func:`path_salt` of the path name.

    Returns:
        Boolean array, one value per event.

    Raises:
        ValueError: If ``prescale`` is negative or not an int, or the arrays differ in length.
    """
    if isinstance(prescale, bool) or not isinstance(prescale, (int, np.integer)) or prescale < 0:
        raise ValueError(f"prescale must be an int >= 0 (0 disables the path), got {prescale!r}")
    run, lumi, event = (np.asarray(a) for a in (run, lumi, event))
    if not run.shape == lumi.shape == event.shape:
        raise ValueError(f"run, lumi and event must have the same shape, got "
                         f"{run.shape}, {lumi.shape}, {event.shape}")
    if prescale == 0:
        return np.zeros(event.shape, dtype=bool)
    if prescale == 1:
        return np.ones(event.shape, dtype=bool)
    # Chain the fields through the mixer so that (run, lumi, event) triples that
    # share a sum or xor still hash apart.
    h = np.full(event.shape, np.uint64(salt & 0xFFFF_FFFF_FFFF_FFFF), dtype=np.uint64)
    for part in (run, lumi, event):
        h = splitmix64(h ^ part.astype(np.uint64, copy=False))
    return h % np.uint64(prescale) == 0
