"""The quantities of a capacity plan: the accept rate (``5%``, ``0.05``, ``5kHz``) and formatting.

Rates, sizes and durations follow the grammar every command shares
(:mod:`trigger.units`); a plan's input rate never takes a bare number.
"""

from __future__ import annotations

import re

from trigger.errors import ConfigError
from trigger.units import Rate, parse_bytes, parse_duration, parse_rate

__all__ = [
    "Rate",
    "format_bytes",
    "format_rate",
    "parse_accept",
    "parse_bytes",
    "parse_duration",
    "parse_input_rate",
]


def parse_input_rate(text: str, *, what: str = "rate") -> Rate:
    """Parse ``10PB/s``, ``30Tbit/s``, ``400Gbps`` (bytes/s) or ``100kHz``, ``30MHz``, ``5000/s`` (events/s).

    Raises:
        ConfigError: Not a positive rate with a known unit (a bare number is ambiguous here).
    """
    return parse_rate(text, what=what)


def parse_accept(text: str, *, input_events_per_s: float) -> float:
    """Parse the accept rate as a fraction of the input: ``5%``, ``0.05`` or an absolute ``5kHz``.

    Args:
        text: The accept rate.
        input_events_per_s: The input event rate, to turn an absolute rate into a fraction.

    Returns:
        The kept fraction, in (0, 1].

    Raises:
        ConfigError: Not a fraction in (0, 1], or an absolute rate above the input rate.
    """
    compact = "".join(str(text).split())
    if compact.endswith("%"):
        number = compact[:-1]
        if not re.fullmatch(r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?", number) or float(number) <= 0:
            raise ConfigError(f"accept rate {text!r}: expected a percentage above 0, e.g. 5%, 0.05 or 5kHz")
        fraction = float(number) / 100.0
    elif re.fullmatch(r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?", compact):
        fraction = float(compact)
    else:
        rate = parse_input_rate(text, what="accept rate")
        if rate.unit != "events":
            raise ConfigError(f"accept rate {text!r}: give a fraction (5%, 0.05) or an event rate (5kHz), "
                              "not a byte rate")
        fraction = rate.per_s / input_events_per_s
    if not 0 < fraction <= 1:
        raise ConfigError(f"accept rate {text!r} is {fraction:.3g} of the input ({input_events_per_s:,.0f} "
                          "events/s); it must be above 0 and at most 100%")
    return fraction


def format_bytes(n_bytes: float) -> str:
    """``7.4 MB``, ``12.5 GB``: decimal units, three significant digits."""
    for unit, scale in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n_bytes) >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.3g} B"


def format_rate(per_s: float, unit: str) -> str:
    """``10 PB/s`` for bytes, ``1.35 GHz`` for events (events/s)."""
    if unit == "bytes":
        return format_bytes(per_s) + "/s"
    for name, scale in (("GHz", 1e9), ("MHz", 1e6), ("kHz", 1e3)):
        if per_s >= scale:
            return f"{per_s / scale:.3g} {name}"
    return f"{per_s:.3g} Hz"
