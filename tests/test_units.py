"""The one grammar of rates, sizes and durations that every command shares."""

from __future__ import annotations

import pytest

from trigger.errors import ConfigError
from trigger.units import parse_bytes, parse_duration, parse_rate


@pytest.mark.parametrize(("text", "per_s", "unit"), [
    ("100kHz", 1e5, "events"), ("30 MHz", 3e7, "events"), ("5000/s", 5e3, "events"), ("2.5e5/s", 2.5e5, "events"),
    ("5k events/s", 5e3, "events"), ("40 ev/s", 40.0, "events"),
    ("2GB/s", 2e9, "bytes"), ("500MiB/s", 500 * 2**20, "bytes"), ("100Gb/s", 1.25e10, "bytes"),
    ("400Gbps", 5e10, "bytes"), ("30Tbit/s", 3.75e12, "bytes"), ("10PB/s", 1e16, "bytes"),
])
def test_rates(text: str, per_s: float, unit: str) -> None:
    rate = parse_rate(text)
    assert (rate.per_s, rate.unit, rate.text) == (pytest.approx(per_s), unit, text.strip())


def test_a_bare_number_is_an_event_rate_only_where_the_caller_says_so() -> None:
    assert parse_rate("5000", bare_number_is_events=True).per_s == 5000
    assert parse_rate("1M", bare_number_is_events=True).per_s == 1e6
    with pytest.raises(ConfigError, match="a bare number is ambiguous; write 5000/s or 5000Hz"):
        parse_rate("5000", what="--input-rate")
    with pytest.raises(ConfigError, match="unknown unit 'M'"):
        parse_rate("1M")


@pytest.mark.parametrize(("text", "message"), [
    ("3mHz", "'mHz' is millihertz; write MHz"), ("2GB", "a byte rate needs '/s' \\(GB/s\\)"),
    ("2gb/s", "unknown unit 'gb/s'"),  # g is no prefix: refused, never read as gigabits or gigabytes
    ("fast", "expected a number and a unit"), ("0/s", "must be above 0"), ("3 furlongs/s", "unknown unit"),
])
def test_bad_rates_say_why_with_examples(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_rate(text, what="--rate")
    assert "--rate" in str(info.value) and ("100kHz" in str(info.value) or "MHz" in str(info.value))


def test_sizes_and_durations() -> None:
    assert parse_bytes("7.4MB") == pytest.approx(7.4e6) and parse_bytes("512KiB") == 512 * 1024
    assert parse_bytes("100Gb") == pytest.approx(1.25e10)
    assert parse_duration("200ms") == pytest.approx(0.2) and parse_duration("2min") == 120
    with pytest.raises(ConfigError, match="a unit is required"):
        parse_duration("200")
