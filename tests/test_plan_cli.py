"""``trigger plan``: the farm size printed with its assumptions and bottleneck; errors on stderr, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trigger.cli import main


@pytest.fixture
def replay_json(tmp_path: Path) -> Path:
    path = tmp_path / "replay.json"
    path.write_text(json.dumps({"environment": {"cpu": "Test CPU", "commit": "abc", "date": "2026-01-01"},
                                "end_to_end_events_per_s": {"ipc_1core": {"median": 2e6},
                                                            "ipc_2core": {"median": 4e6}}}))
    return path


def test_petabyte_per_second_plan_is_network_bound(replay_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["plan", "--input-rate", "10PB/s", "--event-size", "7.4MB", "--latency-budget", "200ms",
               "--results", str(replay_json), "--node-cores", "64", "--nic-gbps", "100"])
    out = capsys.readouterr().out
    assert rc == 0
    # 10 PB/s in + 5% kept out = 10.5 PB/s over 12.5 GB/s x 70% per node = 1.2 million nodes.
    assert "Farm: 1,200,000 nodes" in out
    assert "Bottleneck: network" in out
    assert "input 10 PB/s of 7.4 MB events = 1.35 GHz" in out
    assert "2 MHz per core end to end from Arrow IPC, median: replay.json (Test CPU" in out
    assert "5 GB/s copy per core: assumed" in out


def test_cms_like_plan_as_json(replay_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["plan", "--input-rate", "100kHz", "--event-size", "1MB", "--accept-rate", "5kHz", "--results",
               str(replay_json), "--storage-write-gbps", "4", "--json"])
    plan = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert plan["requirement"]["input_bytes_per_s"] == pytest.approx(1e11)
    assert plan["requirement"]["accept_fraction"] == pytest.approx(0.05)
    # 5 GB/s kept over 0.5 GB/s x 70% per node = 14.3 -> 15 nodes; the NIC needs 105 / 8.75 = 12.
    assert (plan["bottleneck"], plan["nodes"]) == ("storage write", 15)


def test_core_rate_given_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "io.json"
    other.write_text(json.dumps({"formats": {}}))
    rc = main(["plan", "--input-rate", "1TB/s", "--event-size", "1MB", "--results", str(other),
               "--core-rate", "1MHz", "--copy-rate", "10GB/s"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "1,000,000 events/s per core: given (--core-rate)" in out
    assert "10GB/s copy per core: given (--copy-rate)" in out


def test_no_measured_rate_is_an_error_that_says_what_to_run(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "io.json"
    other.write_text(json.dumps({"formats": {}}))
    rc = main(["plan", "--input-rate", "1TB/s", "--event-size", "1MB", "--results", str(other)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "no measured events/s per core" in err and "trigger bench replay" in err and "--core-rate" in err


def test_bad_quantity_names_the_option(replay_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["plan", "--input-rate", "10PB", "--event-size", "7.4MB", "--results", str(replay_json)])
    assert rc == 1
    assert "--input-rate '10PB': a byte rate needs '/s' (PB/s)" in capsys.readouterr().err
