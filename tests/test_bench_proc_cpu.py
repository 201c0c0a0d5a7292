"""The /proc CPU split of the farm benchmark: arithmetic, and a live snapshot of this process."""

from __future__ import annotations

import sys
import time

import pytest

from bench.proc_cpu import ROLES, cpu_by_role, split_per_batch


def test_split_per_batch_gives_ms_per_batch_and_the_cores_kept_busy():
    before = {"filters": 1.0, "sink": 0.5, "source": 0.2, "raylet": 0.1, "gcs": 0.0, "driver": 0.3, "other": 5.0}
    after = {"filters": 3.3, "sink": 1.6, "source": 0.9, "raylet": 0.27, "gcs": 0.04, "driver": 0.55, "other": 9.0}
    got = split_per_batch(before, after, batches=100, wall_s=2.5)
    assert got["filters_ms_per_batch"] == 23.0 and got["sink_ms_per_batch"] == 11.0
    assert got["outside_filters_ms_per_batch"] == pytest.approx(11.0 + 7.0 + 1.7 + 0.4 + 2.5)  # not "other"
    assert got["total_ms_per_batch"] == pytest.approx(45.6)
    assert got["cores_busy"] == pytest.approx(4.56 / 2.5, abs=0.01) and got["batches_per_s"] == 40.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_cpu_by_role_counts_this_process_as_the_driver():
    before = cpu_by_role()
    t0 = time.process_time()
    while time.process_time() - t0 < 0.2:  # burn 0.2 s of CPU here
        sum(range(10_000))
    after = cpu_by_role()
    assert set(after) == {*ROLES, "driver", "other"}
    assert after["driver"] - before["driver"] >= 0.15
