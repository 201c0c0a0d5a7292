"""Units of ``trigger plan``: sizes, durations, byte and event rates, accept rates; errors that say how to fix."""

from __future__ import annotations

import pytest

from trigger.errors import ConfigError
from trigger.plan.units import (
    format_bytes,
    format_rate,
    parse_accept,
    parse_bytes,
    parse_duration,
    parse_input_rate,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("7.4MB", 7.4e6), ("800B", 800.0), ("1.5 GB", 1.5e9), ("2kB", 2e3), ("512KiB", 512 * 1024),
    ("1MiB", 2**20), ("100Gb", 12.5e9), ("8bit", 1.0), ("1e3MB", 1e9),
])
def test_sizes(text: str, expected: float) -> None:
    assert parse_bytes(text) == pytest.approx(expected)


@pytest.mark.parametrize(("text", "fragment"), [
    ("7.4", "unknown unit ''"), ("7.4mb", "unknown unit 'mb'"), ("-1MB", "expected a number"),
    ("0MB", "must be above 0"), ("lots", "expected a number"), ("3 parsecs", "unknown unit"),
])
def test_bad_sizes_say_what_is_expected(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="--event-size") as err:
        parse_bytes(text, what="--event-size")
    assert fragment in str(err.value) and "7.4MB" in str(err.value)


@pytest.mark.parametrize(("text", "seconds"), [("200ms", 0.2), ("1.5s", 1.5), ("50us", 50e-6), ("2min", 120.0),
                                               ("250 ns", 250e-9)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_duration_needs_a_unit() -> None:
    with pytest.raises(ConfigError, match="a unit is required"):
        parse_duration("200")
    with pytest.raises(ConfigError, match="unknown unit 'parsec'"):
        parse_duration("2parsec")


@pytest.mark.parametrize(("text", "value", "unit"), [
    ("10PB/s", 1e16, "bytes"), ("30Tbit/s", 3.75e12, "bytes"), ("400Gbps", 5e10, "bytes"), ("2GiB/s", 2**31, "bytes"),
    ("100kHz", 1e5, "events"), ("30MHz", 3e7, "events"), ("5000/s", 5e3, "events"), ("1GHz", 1e9, "events"),
])
def test_input_rates(text: str, value: float, unit: str) -> None:
    rate = parse_input_rate(text)
    assert (rate.per_s, rate.unit) == (pytest.approx(value), unit)


@pytest.mark.parametrize(("text", "fragment"), [
    ("5000", "ambiguous"), ("10PB", "a byte rate needs '/s'"), ("3mHz", "millihertz"), ("fast", "expected a number"),
])
def test_bad_rates(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_input_rate(text)


def test_accept_as_fraction_percent_or_rate() -> None:
    assert parse_accept("5%", input_events_per_s=1e5) == pytest.approx(0.05)
    assert parse_accept("0.05", input_events_per_s=1e5) == pytest.approx(0.05)
    assert parse_accept("5kHz", input_events_per_s=1e5) == pytest.approx(0.05)
    with pytest.raises(ConfigError, match="at most 100%"):
        parse_accept("150%", input_events_per_s=1e5)
    with pytest.raises(ConfigError, match="at most 100%"):
        parse_accept("200kHz", input_events_per_s=1e5)
    with pytest.raises(ConfigError, match="not a byte rate"):
        parse_accept("10GB/s", input_events_per_s=1e5)


def test_formatting() -> None:
    assert format_bytes(7.4e6) == "7.4 MB"
    assert format_rate(1e16, "bytes") == "10 PB/s"
    assert format_rate(1.35e9, "events") == "1.35 GHz"
    assert format_rate(500.0, "events") == "500 Hz"
