"""The capacity model on hand-checked cases, and the figures read from benchmark results."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from trigger.errors import ConfigError
from trigger.plan import CapacityPlanner, NodeProfile, Requirement, load_figures

# 1 GB/s of 1 kB events = 1 MHz; 10% kept.
REQ = Requirement(input_bytes_per_s=1e9, event_size_bytes=1e3, latency_budget_s=0.2, accept_fraction=0.1)


def node(**changes: Any) -> NodeProfile:
    # 10 cores at 1 MHz each, copies at 1 GB/s, NIC 1 GB/s, sized for 50%: round numbers to check by hand.
    base: dict[str, Any] = {"cores": 10, "gpus": 0, "nic_bytes_per_s": 1e10, "core_events_per_s": 1e6,
                            "copy_bytes_per_s": 1e9, "target_utilization": 0.5, "credits": 2}
    return NodeProfile(**{**base, **changes})


def test_core_seconds_per_event_adds_the_payload_copies() -> None:
    # 1 us deciding + (1 ingest copy + 0.1 kept) x 1 kB at 1 GB/s = 1 us + 1.1 us.
    assert CapacityPlanner(node()).core_seconds_per_event(REQ) == pytest.approx(2.1e-6)
    assert CapacityPlanner(node(ingest_copies=0)).core_seconds_per_event(REQ) == pytest.approx(1.1e-6)


def test_compute_bound() -> None:
    # 1 MHz x 2.1 us = 2.1 busy cores; a node gives 10 x 0.5 = 5 -> 1 node. Make cores scarce: 1 core x 0.5
    # -> 2.1 / 0.5 = 4.2 -> 5 nodes; the NIC (1.1 GB/s over 5 GB/s usable) needs 1.
    plan = CapacityPlanner(node(cores=1)).plan(REQ)
    assert plan.bottleneck == "compute"
    assert plan.nodes == 5
    assert {d.resource: d.nodes for d in plan.demands} == {"compute": 5, "network": 1}
    assert "compute needs the most nodes (5; network 1)" in plan.reason
    assert plan.hint.startswith("with 5 cores per node, network")  # 2.1 busy cores / 1 node / 50%


def test_network_bound() -> None:
    # 1 GB/s in + 0.1 GB/s out = 1.1 GB/s; a 1 GB/s NIC at 50% carries 0.5 -> 2.2 -> 3 nodes.
    plan = CapacityPlanner(node(nic_bytes_per_s=1e9)).plan(REQ)
    assert (plan.bottleneck, plan.nodes) == ("network", 3)
    assert plan.network_per_node_bytes_per_s == pytest.approx(1.1e9 / 3)
    # Compute alone needs 1 node: a NIC carrying 1.1 GB/s at 50% = 17.6 Gbit/s would do.
    assert plan.hint == "with 17.6 Gbit/s of NIC per node, compute would set the size instead: 1 node"


def test_storage_write_bound() -> None:
    # 0.1 GB/s kept; each node writes 10 MB/s x 50% = 5 MB/s -> 20 nodes.
    plan = CapacityPlanner(node(storage_write_bytes_per_s=1e7)).plan(REQ)
    assert (plan.bottleneck, plan.nodes) == ("storage write", 20)
    assert plan.storage_write_bytes_per_s == pytest.approx(1e8)


def test_gpu_bound() -> None:
    # Half the events reach a model: 0.5 MHz; a node's 2 GPUs x 100 kHz x 50% = 100 kHz -> 5 nodes, 10 GPUs,
    # of which 0.5 MHz / 50 kHz usable each = 10 are busy.
    plan = CapacityPlanner(node(gpus=2, gpu_events_per_s=1e5, model_fraction=0.5)).plan(REQ)
    assert (plan.bottleneck, plan.nodes, plan.gpus, plan.gpus_needed) == ("gpu", 5, 10, 10)


def test_an_exact_fit_does_not_round_up() -> None:
    # 1 MHz x 10 us (a 100 kHz core, copies free) = 10 busy cores, on nodes of exactly 1 usable core.
    plan = CapacityPlanner(node(cores=2, core_events_per_s=1e5, ingest_copies=0, copy_bytes_per_s=1e300,
                                nic_bytes_per_s=1e12)).plan(REQ)
    assert plan.demands[0].need == pytest.approx(10.0)
    assert plan.nodes == 10


def test_batch_size_from_the_latency_budget() -> None:
    # An event waits t x (1/u + credits) = 2.1 us x (2 + 2) = 8.4 us per event of its batch: 0.2 s / 8.4 us.
    plan = CapacityPlanner(node()).plan(REQ)
    assert plan.batch_events == 23_809
    assert plan.batch_latency_s == pytest.approx(23_809 * 8.4e-6)
    assert plan.memory_per_node_bytes == pytest.approx(10 * 2 * 23_809 * 1e3)
    assert plan.feasible


def test_latency_budget_that_no_farm_meets() -> None:
    # 10 events/s per core: 0.1 s per event x 4 = 0.4 s > 0.2 s, however many nodes.
    plan = CapacityPlanner(node(core_events_per_s=10.0, copy_bytes_per_s=1e15)).plan(REQ)
    assert not plan.feasible
    assert plan.bottleneck == "latency"
    assert plan.batch_events == 0
    assert "budget" in plan.reason and "whatever the farm size" in plan.reason


def test_partitions_when_one_driver_cannot_record_every_batch() -> None:
    # 1 MHz in batches of 23,809 = 42 batches/s; at 0.1 s of driver CPU each = 4.2 cores / 50% -> 9 drivers.
    assert CapacityPlanner(node(driver_cpu_s_per_batch=0.1)).plan(REQ).partitions == 9
    assert CapacityPlanner(node(driver_cpu_s_per_batch=1e-3)).plan(REQ).partitions == 1
    assert CapacityPlanner(node()).plan(REQ).partitions == 1


def test_plan_is_frozen_and_serializable() -> None:
    plan = CapacityPlanner(node()).plan(REQ)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.nodes = 1  # type: ignore[misc]
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["requirement"]["input_events_per_s"] == pytest.approx(1e6)
    assert data["demands"][0]["resource"] == "compute"
    assert any("10 cores" in a for a in plan.assumptions)


def test_models_without_gpus_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="--gpus-per-node"):
        node(model_fraction=0.2)
    with pytest.raises(ConfigError, match="trigger bench inference"):
        node(model_fraction=0.2, gpus=4)
    with pytest.raises(ConfigError, match="accept fraction"):
        Requirement(input_bytes_per_s=1.0, event_size_bytes=1.0, latency_budget_s=1.0, accept_fraction=0.0)


# ---------------------------------------------------------------- figures from results files


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"environment": {"cpu": "Test CPU", "commit": "abc1234", "date": "2026-01-01"},
                                **data}))
    return path


def replay(one: float = 2e6, two: float = 3.6e6) -> dict[str, Any]:
    return {"end_to_end_events_per_s": {"ipc_1core": {"median": one}, "ipc_2core": {"median": two}}}


def test_figures_from_every_kind_of_results_file(tmp_path: Path) -> None:
    gpu = {"available": ["CUDAExecutionProvider"], "models": {
        "a": {"cuda": {"sizes": {"1000": {"events_per_s": 1e6}, "100000": {"events_per_s": 4e6}}},
              "cpu": {"sizes": {"1000": {"events_per_s": 9e9}}}},  # a CPU figure is no GPU figure
        "b": {"cuda": {"sizes": {"1000": {"events_per_s": 4e6}}}}}}
    files = [write(tmp_path, "replay.json", replay()), write(tmp_path, "payload.json", {"copy_bytes_per_s": 8e9}),
             write(tmp_path, "scaling.json", {"points": [{"driver_cpu_us_per_batch": 400.0},
                                                         {"driver_cpu_us_per_batch": 600.0},
                                                         {"driver_cpu_us_per_batch": None}]}),
             write(tmp_path, "gpu.json", gpu), write(tmp_path, "io.json", {"formats": {}})]
    f = load_figures(files)
    assert f.core_events_per_s == 2e6
    assert f.core_scaling == pytest.approx(0.9)  # 3.6 / (2 x 2)
    assert f.copy_bytes_per_s == 8e9
    assert f.driver_cpu_s_per_batch == pytest.approx(500e-6)
    assert f.gpu_events_per_s == pytest.approx(2e6)  # both models per event: 1 / (1/4M + 1/4M)
    assert f.ignored == (str(files[-1]),)
    assert any("replay.json (Test CPU, commit abc1234" in s for s in f.sources)


def test_peers_engine_rate_only_when_no_replay(tmp_path: Path) -> None:
    peers = write(tmp_path, "peers.json", {"peers": {"engine": {"events_per_s": {"median": 5e6}}}})
    assert load_figures([peers]).core_events_per_s == 5e6
    assert load_figures([peers, write(tmp_path, "replay.json", replay())]).core_events_per_s == 2e6


def test_bad_results_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist.*trigger bench replay"):
        load_figures([tmp_path / "nope.json"])
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json cannot be read as JSON"):
        load_figures([tmp_path / "broken.json"])
    with pytest.raises(ConfigError, match="ipc_1core.median is -1"):
        load_figures([write(tmp_path, "r.json", replay(one=-1))])


def test_core_scaling_prefers_engine_processes_when_measured(tmp_path: Path) -> None:
    data = replay(2e6, 3.0e6)
    data["end_to_end_events_per_s"]["ipc_2proc"] = {"median": 3.8e6}
    f = load_figures([write(tmp_path, "replay.json", data)])
    assert f.core_scaling == pytest.approx(0.95)  # 3.8 / (2 x 2): processes, not the 3.0 of threads
    assert any("engine processes" in s for s in f.sources)
