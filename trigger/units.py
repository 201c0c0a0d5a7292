"""Quantities people type: rates (``100kHz``, ``2GB/s``, ``400Gbps``), sizes (``7.4MB``), durations (``200ms``).

One grammar for every command (``trigger replay --rate``, ``trigger farm``,
``trigger plan``), at the bottom layer so that io and the tools share it.

Byte units are decimal (``kB``, ``MB``, ``GB``, ``TB``, ``PB``, ``EB``: powers
of 1000) or binary (``KiB`` .. ``EiB``); ``B`` is a byte and ``b`` or ``bit``
a bit, so ``100Gb/s`` (a NIC) is an eighth of ``100GB/s``. Prefixes are
case-sensitive where it matters: ``m`` (milli) is not ``M`` (mega), so ``7.4mb``
and ``3mHz`` are refused with a message rather than guessed. Event rates are
``Hz`` with a prefix, ``/s``, or ``events/s`` with an optional ``k``/``M``/``G``
(``5k events/s``); a bare number is an event rate only where the caller says
so (``trigger replay --rate 5000``), and ambiguous elsewhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from trigger.errors import ConfigError

__all__ = ["Rate", "parse_bytes", "parse_duration", "parse_rate"]

_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}
_DURATION = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}
_FREQUENCY = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}
_EVENT_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_EVENT_WORDS = ("events", "event", "evt", "ev")
_NUMBER = re.compile(r"^([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate as the user gave it.

    Attributes:
        per_s: Units per second.
        unit: ``events`` or ``bytes``.
        text: As the user wrote it.
    """

    per_s: float
    unit: str
    text: str


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


def _event_factor(unit: str, *, bare_number_is_events: bool) -> float | None:
    """Events/s per ``unit`` (``kHz``, ``/s``, ``kevents/s``, ``M`` where bare numbers count), or None."""
    if unit.lower().endswith("hz"):
        return _FREQUENCY.get(unit.lower())
    per_s = unit.endswith("/s")
    base = unit.removesuffix("/s")
    word = next((w for w in _EVENT_WORDS if base.lower().endswith(w)), None)
    if word is not None:
        base = base[: -len(word)]
    if (per_s or word is not None or bare_number_is_events) and base in _EVENT_PREFIX:
        return _EVENT_PREFIX[base]
    return None


def parse_rate(text: str, *, what: str = "rate", bare_number_is_events: bool = False) -> Rate:
    """Parse an event rate (``100kHz``, ``30MHz``, ``5000/s``, ``5k events/s``) or a byte rate (``10PB/s``, ``400Gbps``).

    Args:
        text: The rate.
        what: Its name in messages (``--rate``, ``--input-rate``).
        bare_number_is_events: Read ``5000`` (and ``5k``, ``1M``) as events/s;
            otherwise a bare number is refused as ambiguous.

    Returns:
        The rate in events/s or bytes/s.

    Raises:
        ConfigError: Not a positive rate with a known unit, with examples.
    """
    examples = "100kHz, 5000/s or 5k events/s (events/s); 2GB/s, 500MiB/s or 400Gbps (bytes/s)"
    value, unit = _split(text, what, examples)
    if unit[:1] == "m" and unit.lower() == "mhz":  # millihertz is no trigger rate: say so, do not guess
        raise ConfigError(f"{what} {text!r}: 'mHz' is millihertz; write MHz for megahertz")
    if unit == "" and not bare_number_is_events:
        raise ConfigError(f"{what} {text!r}: a bare number is ambiguous; write {value:g}/s or {value:g}Hz "
                          f"for events/s, or a byte rate such as {value:g}GB/s")
    events = _event_factor(unit, bare_number_is_events=bare_number_is_events)
    if events is not None:
        return Rate(value * events, "events", str(text).strip())
    size_unit = unit[:-2] if unit.endswith("/s") else unit[:-3] + "bit" if unit.endswith("bps") else None
    factor = None if size_unit is None else _bytes_factor(size_unit)
    if factor is None:
        if _bytes_factor(unit) is not None:
            raise ConfigError(f"{what} {text!r}: a byte rate needs '/s' ({unit}/s); e.g. {examples}")
        raise ConfigError(f"{what} {text!r}: unknown unit {unit!r}; e.g. {examples}")
    return Rate(value * factor, "bytes", str(text).strip())
