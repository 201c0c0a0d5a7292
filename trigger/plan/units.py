"""Parsing the quantities of a capacity plan: ``10PB/s``, ``7.4MB``, ``200ms``, ``100kHz``, ``5%``.

Byte units are decimal (``kB``, ``MB``, ``GB``, ``TB``, ``PB``, ``EB``: powers
of 1000) or binary (``KiB`` .. ``EiB``); ``B`` is a byte and ``b`` or ``bit``
a bit, so ``100Gb/s`` (a NIC) is an eighth of ``100GB/s``. Prefixes are
case-insensitive except ``m`` (milli) against ``M`` (mega) where it matters: a
size has no milli, so ``7.4mb`` is refused rather than guessed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from trigger.errors import ConfigError

__all__ = [
    "InputRate",
    "format_bytes",
    "format_rate",
    "parse_accept",
    "parse_bytes",
    "parse_duration",
    "parse_input_rate",
]

_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}
_DURATION = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}
_FREQUENCY = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}
_NUMBER = re.compile(r"^([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(.*)$")


def _split(text: str, what: str, examples: str) -> tuple[float, str]:
    compact = "".join(str(text).split())
    m = _NUMBER.match(compact)
    if not m:
        raise ConfigError(f"{what} {text!r}: expected a number and a unit, e.g. {examples}")
    value = float(m.group(1))
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{what} {text!r}: must be above 0, e.g. {examples}")
    return value, m.group(2)


def _bytes_factor(unit: str) -> float | None:
    """Bytes per ``unit`` (``MB``, ``GiB``, ``Gb``, ``Gbit``), or None if it is not a size unit."""
    for suffix, scale in (("bit", 0.125), ("B", 1.0), ("b", 0.125)):
        if unit.endswith(suffix):
            prefix = unit[: -len(suffix)]
            if prefix in _BINARY:
                return _BINARY[prefix] * scale
            if prefix in _PREFIX:
                return _PREFIX[prefix] * scale
            if prefix.upper() in ("KI", "MI", "GI", "TI", "PI", "EI"):
                return _BINARY[prefix[0].upper() + "i"] * scale
            return None
    return None


def parse_bytes(text: str, *, what: str = "size") -> float:
    """Parse a size: ``7.4MB``, ``512KiB``, ``1GB``, ``800B``, ``100Gb`` (bits).

    Raises:
        ConfigError: Not a positive size with a known unit.
    """
    examples = "7.4MB, 512KiB, 1.2GB or 800B"
    value, unit = _split(text, what, examples)
    factor = _bytes_factor(unit)
    if factor is None:
        raise ConfigError(f"{what} {text!r}: unknown unit {unit!r}; expected B, kB, MB, GB, TB, PB (x1000), "
                          f"KiB, MiB, GiB (x1024) or bits (Mb, Gb, Gbit), e.g. {examples}")
    return value * factor


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Parse a duration into seconds: ``200ms``, ``1.5s``, ``50us``, ``2min``.

    Raises:
        ConfigError: Not a positive duration with a unit.
    """
    examples = "200ms, 1.5s or 50us"
    value, unit = _split(text, what, examples)
    if unit not in _DURATION:
        hint = " (a unit is required)" if unit == "" else ""
        raise ConfigError(f"{what} {text!r}: unknown unit {unit!r}{hint}; expected one of "
                          f"{', '.join(_DURATION)}, e.g. {examples}")
    return value * _DURATION[unit]


@dataclass(frozen=True, slots=True)
class InputRate:
    """A rate given as bytes/s (``10PB/s``) or events/s (``100kHz``).

    Attributes:
        value: Units per second.
        unit: ``bytes`` or ``events``.
        text: As the user wrote it.
    """

    value: float
    unit: str
    text: str


def parse_input_rate(text: str, *, what: str = "rate") -> InputRate:
    """Parse ``10PB/s``, ``30Tbit/s``, ``400Gbps`` (bytes/s) or ``100kHz``, ``30MHz``, ``5000/s`` (events/s).

    Raises:
        ConfigError: Not a positive rate with a known unit.
    """
    examples = "10PB/s, 30Tbit/s, 400Gbps, 100kHz or 5000/s"
    value, unit = _split(text, what, examples)
    freq = {k.lower(): v for k, v in _FREQUENCY.items()}
    if unit.lower() in freq:
        if unit[0] == "m" and unit.lower() == "mhz":  # mHz (milli) is no trigger rate; say so
            raise ConfigError(f"{what} {text!r}: 'mHz' is millihertz; write MHz for megahertz")
        return InputRate(value * freq[unit.lower()], "events", str(text).strip())
    if unit in ("/s", "", "ev/s", "events/s", "evt/s"):
        if unit == "":
            raise ConfigError(f"{what} {text!r}: a bare number is ambiguous; write {value:g}/s or {value:g}Hz "
                              f"for events/s, or a byte rate such as {value:g}GB/s")
        return InputRate(value, "events", str(text).strip())
    size_unit = None
    if unit.endswith("/s"):
        size_unit = unit[:-2]
    elif unit.endswith("bps"):  # 400Gbps: bits per second
        size_unit = unit[:-3] + "bit"
    factor = None if size_unit is None else _bytes_factor(size_unit)
    if factor is None:
        raise ConfigError(f"{what} {text!r}: unknown unit {unit!r}; expected a byte rate (PB/s, TB/s, GB/s, "
                          f"Tbit/s, Gbps) or an event rate (kHz, MHz, /s), e.g. {examples}")
    return InputRate(value * factor, "bytes", str(text).strip())


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
        value, _ = _split(compact[:-1], "accept rate", "5%, 0.05 or 5kHz")
        fraction = value / 100.0
    elif re.fullmatch(r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?", compact):
        fraction = float(compact)
    else:
        rate = parse_input_rate(text, what="accept rate")
        if rate.unit != "events":
            raise ConfigError(f"accept rate {text!r}: give a fraction (5%, 0.05) or an event rate (5kHz), "
                              "not a byte rate")
        fraction = rate.value / input_events_per_s
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
