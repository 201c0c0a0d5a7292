"""The payload sweep: sizes, event counts per point, and a tiny sweep that writes well-formed results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trigger_bench import payload_sweep

from trigger.errors import ConfigError


def test_sizes_parse_as_decimal_bytes() -> None:
    assert payload_sweep.parse_sizes("0,1k,10k,100k,1M") == [0, 1_000, 10_000, 100_000, 1_000_000]
    assert payload_sweep.parse_sizes("1MB, 0B, 512, 1k") == [0, 512, 1_000, 1_000_000]
    with pytest.raises(ConfigError, match="payload size"):
        payload_sweep.parse_sizes("0,lots")


def test_big_payloads_get_fewer_events_in_whole_batches() -> None:
    n = payload_sweep.events_for
    assert n(0, events=200_000, max_bytes=3e9, batch_size=2048) == 198_656  # whole batches
    assert n(1_000_000, events=200_000, max_bytes=3e9, batch_size=2048) == 2048  # 3,000 -> one batch
    assert n(100_000, events=200_000, max_bytes=3e9, batch_size=2048) == 28_672
    assert n(10**9, events=200_000, max_bytes=3e9, batch_size=2048) == 2048  # at least one batch


def test_tiny_sweep_writes_well_formed_results(tmp_path: Path) -> None:
    payload_sweep.main(["--sizes", "0,2k", "--events", "4096", "--batch-size", "1024", "--max-bytes", "1e8",
                        "--repeats", "1", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "payload.json").read_text())
    empty, big = result["points"]
    assert (empty["raw_bytes_per_event"], big["raw_bytes_per_event"]) == (0, 2000)
    # Same seed, same events: the payload changes nothing about the decisions.
    assert empty["events"] == big["events"] == 4096 and empty["kept"] == big["kept"] > 0
    # Only kept events carry their payload out: about kept fraction x 2 kB more per event.
    extra = big["copied_bytes_per_event"] - empty["copied_bytes_per_event"]
    assert extra == pytest.approx(big["kept_fraction"] * 2000, rel=0.5)
    for p in result["points"]:
        assert p["decide_us_per_event"] > 0 and p["engine_us_per_event"] > 0 and p["read_us_per_event"] >= 0
    assert result["decide_max_over_min"] >= 1.0
    assert result["copy_bytes_per_s"] is None  # too few bytes copied to time
    assert not list((tmp_path / "data").iterdir())  # each point's file is deleted after it
