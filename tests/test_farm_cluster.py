"""Node loss: a multi-node local cluster (``ray.cluster_utils.Cluster``) loses the node of a busy filter.

Its own Ray cluster (a head with no CPU, so filters run on worker nodes), so
this module must not share a process with another Ray instance at the same
time; pytest runs modules one after the other and the fixture shuts it down.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster
from test_farm_ray import N_EVENTS, assert_exactly_once, local_run

from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.runtime.ray import EngineSpec, FarmConfig, FarmReplay
from trigger.runtime.ray.engine_spec import Throttled

pytestmark = [pytest.mark.ray, pytest.mark.slow]

BATCH = 1_000  # 24 batches of 0.3 s on 2 filters: the run outlives the node loss


@pytest.fixture(scope="module")
def cluster() -> Any:
    if ray.is_initialized():
        ray.shutdown()
    # Quick node-death detection so the test does not wait for the default health checks.
    system = {"health_check_period_ms": 500, "health_check_failure_threshold": 3}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "_system_config": system})
    for _ in range(2):
        c.add_node(num_cpus=1)
    ray.init(address=c.address, logging_level="ERROR")
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


def test_node_loss_redispatches_and_outputs_exactly_once(cluster: Any, tmp_path: Path) -> None:
    files = [str(p) for p in write_dataset(N_EVENTS, tmp_path / "gen",
                                           config=GeneratorConfig(seed=7, raw_bytes_per_event=64),
                                           formats=("ipc",), batch_size=6_000)]
    local_run(files, tmp_path / "local", batch_size=BATCH)
    lost: list[str] = []

    def lose_a_node(ctl: Any) -> None:
        if lost or not ctl.in_flight:
            return
        fid = max(ctl.in_flight, key=ctl.in_flight.get)
        node_id = ctl.pool.members[fid].info["node_id"]
        victim = next(n for n in cluster.worker_nodes if n.node_id == node_id)
        # A lost machine takes every process with it: the raylet and object store (remove_node) and,
        # at the same instant, the worker processes (which would otherwise notice only ~1 s later).
        os.kill(ctl.pool.members[fid].info["pid"], signal.SIGKILL)
        cluster.remove_node(victim, allow_graceful=False)
        cluster.add_node(num_cpus=1)  # the replacement capacity an autoscaler would bring
        lost.append(node_id)

    cfg = FarmConfig(filters=2, batch_size=BATCH, progress=False)
    farm = FarmReplay(Throttled(EngineSpec.from_menu(None), 0.3), tmp_path / "farm", config=cfg,
                      on_window=lose_a_node).run(files)
    assert lost, "the run ended before a node could be removed"
    f = farm["farm"]
    assert f["pool"]["died"] >= 1 and f["redispatched_batches"] >= 1, f
    assert any("died" in e["reason"] for e in f["scaling_events"])
    assert farm["ledger_ok"] and farm["events_in"] == N_EVENTS
    assert_exactly_once(tmp_path / "farm", tmp_path / "local")
