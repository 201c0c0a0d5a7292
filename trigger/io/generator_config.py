"""The configuration of the synthetic event generator: process mix and stream settings.

A :class:`GeneratorConfig` (with its :class:`ProcessMix`) defines one event
stream entirely: the same config always yields the same events
(:func:`trigger.io.generator.generate_batches`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NoReturn

import numpy as np

from trigger.errors import ConfigError, did_you_mean
from trigger.io.processes import PROCESS_SAMPLERS

__all__ = [
    "PROCESSES",
    "GeneratorConfig",
    "ProcessMix",
    "check_count",
]

#: Process names, in the order of the ``process`` dictionary.
PROCESSES: tuple[str, ...] = tuple(PROCESS_SAMPLERS)


def _fail(message: str) -> NoReturn:
    raise ConfigError(message)


def _real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ProcessMix:
    """Relative fractions of each process (normalized when sampling).

    Raises:
        ConfigError: A fraction is negative, not finite or not a number, or all are 0.
    """

    multijet: float = 0.90
    zmumu: float = 0.03
    wenu: float = 0.03
    ttbar: float = 0.03
    exotic: float = 0.01

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            if not _real(value) or value < 0:
                _fail(f"process mix: fraction of {name!r} is {value!r}; expected a finite number >= 0 "
                      f"(for example {name}=0.03)")
        if sum(self.as_dict().values()) <= 0:
            _fail("process mix: all fractions are 0; give at least one process a positive fraction "
                  "(for example multijet=0.9,zmumu=0.1)")

    @classmethod
    def from_mapping(cls, fractions: Mapping[str, float]) -> ProcessMix:
        """Build a mix from ``{process: fraction}``; processes not named get 0.

        Raises:
            ConfigError: An unknown process name (with the closest known names).
        """
        for name in fractions:
            if name not in PROCESSES:
                _fail(f"process mix: unknown process {name!r}{did_you_mean(name, PROCESSES)} "
                      f"(known: {', '.join(PROCESSES)})")
        return cls(**{p: fractions.get(p, 0.0) for p in PROCESSES})

    @classmethod
    def parse(cls, text: str) -> ProcessMix:
        """Parse ``"multijet=0.9,zmumu=0.05,..."``; processes not named get 0.

        Raises:
            ConfigError: Malformed item, bad number, repeated or unknown process.
        """
        fractions: dict[str, float] = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            name, sep, value = (s.strip() for s in item.partition("="))
            if not sep:
                _fail(f"process mix {text!r}: item {item!r} is not NAME=FRACTION (e.g. zmumu=0.03)")
            if name in fractions:
                _fail(f"process mix {text!r}: process {name!r} is given twice")
            try:
                fractions[name] = float(value)
            except ValueError:
                _fail(f"process mix {text!r}: fraction {value!r} of {name!r} is not a number")
        if not fractions:
            _fail(f"process mix {text!r} is empty; expected e.g. multijet=0.9,zmumu=0.1")
        return cls.from_mapping(fractions)

    def as_dict(self) -> dict[str, float]:
        """The raw fractions by process name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def probabilities(self) -> np.ndarray:
        """Normalized fractions in :data:`PROCESSES` order (float64, sums to 1)."""
        p = np.array([getattr(self, name) for name in PROCESSES], dtype=np.float64)
        return p / p.sum()


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that defines a synthetic event stream (same config, same events).

    Attributes:
        seed: Non-negative seed of the stream.
        mix: Process fractions.
        pileup_mean_jets: Mean number of soft pileup jets per event (Poisson).
        raw_bytes_per_event: Size of the opaque ``raw`` payload; 0 omits the column.
        run: Run number written in every event.
        events_per_lumi: Events per luminosity block.
        event_spacing_ns: Nominal time between events (10 us: a 100 kHz L1 rate).
        start_time_ns: ``timestamp_ns`` of event 0 (fixed so reruns are identical).
        photon_probability: Chance that an event carries a stray photon.

    Raises:
        ConfigError: A value out of range.
    """

    seed: int = 1
    mix: ProcessMix = field(default_factory=ProcessMix)
    pileup_mean_jets: float = 3.0
    raw_bytes_per_event: int = 0
    run: int = 1
    events_per_lumi: int = 10_000
    event_spacing_ns: int = 10_000
    start_time_ns: int = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
    photon_probability: float = 0.05

    def __post_init__(self) -> None:
        ints = {"seed": (0, 2**63), "raw_bytes_per_event": (0, 2**31), "run": (0, 2**32 - 1),
                "events_per_lumi": (1, 2**40), "event_spacing_ns": (0, 10**12),
                "start_time_ns": (0, 2**62)}
        for name, (lo, hi) in ints.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                _fail(f"generator config: {name} is {value!r}; expected an integer in [{lo}, {hi}]")
        for name, hi in (("pileup_mean_jets", 100.0), ("photon_probability", 1.0)):
            value = getattr(self, name)
            if not _real(value) or not 0 <= value <= hi:
                _fail(f"generator config: {name} is {value!r}; expected a number in [0, {hi:g}]")
        if not isinstance(self.mix, ProcessMix):
            _fail(f"generator config: mix is {type(self.mix).__name__}; expected a ProcessMix "
                  "(use ProcessMix.parse('multijet=0.9,zmumu=0.1'))")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the configuration."""
        return asdict(self)


def check_count(name: str, value: object, *, low: int) -> None:
    """Check an event or row count given as an option.

    Args:
        name: The option's name, for the message.
        value: The value given.
        low: The smallest value allowed.

    Raises:
        ConfigError: ``value`` is not an integer (bool excluded) or is below ``low``.
    """
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        _fail(f"{name} is {value!r}; expected an integer >= {low}")
