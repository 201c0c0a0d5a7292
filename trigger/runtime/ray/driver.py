"""The farm driver: sets up sinks, filters and sources on Ray, runs the control loop, writes the summary.

::

    source actors --(object ref, credits)--> filter actors --(kept rows)--> sink actors
          |  small result records                                           |
          +--------------------> driver (control plane) <-------------------+ ack
                                 ledger, summary, metrics, scaling

The driver reads file metadata (to know every shard ahead, for the ledger)
but never event data: sources put batches into the object store, filters read
them from there, sinks write the kept rows. It makes the same decisions as the
local runtime because every filter actor runs the same engine on the same
batches (ids ``"<file index>:<row>"``, as locally).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from trigger.errors import ConfigError, InputError
from trigger.io.batch import Shard
from trigger.io.files import ExpandedInputs, expand_inputs
from trigger.io.quarantine import QuarantineRecord
from trigger.io.sources import open_source
from trigger.runtime.ray.cluster import connect
from trigger.runtime.ray.config import FarmConfig
from trigger.runtime.ray.controller import Controller
from trigger.runtime.ray.metrics import FarmMetrics
from trigger.runtime.ray.pacing import merge_summaries
from trigger.runtime.ray.pool import FilterPool
from trigger.runtime.ray.progress import FarmProgress
from trigger.runtime.ray.record import FarmRecorder
from trigger.runtime.ray.scaling import FixedPolicy, LatencyBudgetPolicy, ScalingPolicy
from trigger.runtime.ray.sink import SinkActor, clean_stale_tmp
from trigger.runtime.ray.sink_journal import (
    load_journals,
    remove_orphans,
    reset_group_outputs,
)
from trigger.runtime.ray.source import SourceActor, SourcePlan

__all__ = ["FarmReplay", "default_policy"]


def default_policy(config: FarmConfig) -> ScalingPolicy:
    """A fixed pool, or the latency-budget policy when ``min_filters < max_filters``."""
    if not config.autoscaling:
        return FixedPolicy(config.filters)
    lo, hi = config.pool_bounds
    return LatencyBudgetPolicy(min_filters=lo, max_filters=hi, latency_budget_s=config.latency_budget_ms / 1e3,
                               target_utilization=config.target_utilization,
                               scale_up_cooldown_s=config.scale_up_cooldown_s,
                               scale_down_cooldown_s=config.scale_down_cooldown_s)


def _split(plan: SourcePlan, n: int) -> list[SourcePlan]:
    """Deal the shards of every file to ``n`` sources in turn.

    By shard, not by file: one large Parquet file is then decoded by every
    source in parallel (decoding is what a Parquet source spends its CPU on).
    Batch ids name the file and the row, so they stay unique whoever reads them.
    """
    out: list[SourcePlan] = [[] for _ in range(n)]
    k = 0
    for idx, path, shards in plan:
        dealt: list[list[Shard]] = [[] for _ in range(n)]
        for shard in shards:
            dealt[k % n].append(shard)
            k += 1
        for source, mine in zip(out, dealt):
            if mine:
                source.append((idx, path, mine))
    return out


def _n_shards(plan: SourcePlan) -> int:
    return sum(len(shards) for _, _, shards in plan)


class FarmReplay:
    """Replays files through the filter farm on Ray.

    Args:
        engine_factory: Builds an engine in each filter actor (picklable), e.g.
            :class:`~trigger.runtime.ray.engine_spec.EngineSpec`.
        out_dir: Output directory.
        config: Farm options (default: :class:`FarmConfig` defaults).
        menu_name: For the summary.
        on_incident: Called with each quarantine record (printing).
        policy: Sizes the pool (default: :func:`default_policy`).
        address: Join this Ray cluster; None starts a local one (or uses an initialized Ray).
        num_cpus: CPUs of a local cluster.
        include_dashboard: Start the dashboard with a local cluster.
        metrics: Export Ray metrics.
        on_window: Called with the :class:`Controller` after each 1 s control window.
        mapping: Mapping onto the event model for every input (a shipped name
            or a YAML path, as ``--mapping``); None: chosen per file where needed.
        on_note: Called with each note about an input (a mapping chosen automatically).
        start_timeout_s: Longest wait for a filter actor to start (free resources or a new node).
    """

    def __init__(self, engine_factory: Callable[[], Any], out_dir: Path, *, config: FarmConfig | None = None,
                 menu_name: str = "", on_incident: Callable[[QuarantineRecord], None] | None = None,
                 policy: ScalingPolicy | None = None, address: str | None = None, num_cpus: int | None = None,
                 include_dashboard: bool = False, metrics: bool = True,
                 on_window: Callable[[Controller], None] | None = None, start_timeout_s: float = 300.0,
                 mapping: str | Path | None = None, on_note: Callable[[str], None] | None = None) -> None:
        self.engine_factory = engine_factory
        self.out_dir = Path(out_dir)
        self.config = config = config or FarmConfig()
        self.menu_name = menu_name
        self.on_incident = on_incident or (lambda rec: None)
        self.policy = policy or default_policy(config)
        self.address, self.num_cpus, self.include_dashboard = address, num_cpus, include_dashboard
        self.metrics = metrics
        self.on_window, self.start_timeout_s = on_window, start_timeout_s
        if mapping is not None:
            from trigger.io.mapping import load_mapping

            load_mapping(mapping)  # refuse an unknown mapping before Ray starts
        self.mapping = None if mapping is None else str(mapping)
        self.on_note = on_note or (lambda note: None)
        self.notes: list[str] = []
        self.controller: Controller | None = None

    def _plan(self, inputs: Sequence[str], rec: FarmRecorder, prefix: str) -> tuple[ExpandedInputs, SourcePlan]:
        expanded = expand_inputs(inputs)
        for err in expanded.missing:
            self.on_incident(rec.record_unopenable(err.source or "", error=err))
        plan: SourcePlan = []
        for path in expanded.files:
            try:
                source = open_source(path, mapping=self.mapping)
                plan.append((len(plan), path, source.shards()))
            except InputError as err:
                self.on_incident(rec.record_unopenable(path, error=err))
                continue
            for note in getattr(source, "notes", []):
                self.notes.append(f"{path}: {note}")
                self.on_note(self.notes[-1])
        return expanded, plan

    def run(self, inputs: Sequence[str], *, backfill: Sequence[str] = ()) -> dict[str, Any]:
        """Replay ``inputs`` (live) and ``backfill`` (idle capacity only); return the summary.

        Raises:
            ConfigError: No input file exists, or the cluster cannot run a filter actor.
            TriggerError: A source actor failed (a bug, not bad input).
        """
        cfg = self.config
        self.notes = []
        engine = self.engine_factory()  # fail fast on a bad menu, before any actor starts
        path_names = tuple(engine.path_names)
        del engine
        if not expand_inputs(inputs).files:
            raise ConfigError("no input files: " + "; ".join(str(e) for e in expand_inputs(inputs).missing))
        clean_stale_tmp(self.out_dir)
        if cfg.resume:  # group files renamed but never journaled: their batches run again
            remove_orphans(self.out_dir, load_journals(self.out_dir))
        else:  # a fresh ledger: a previous run's group files would duplicate this run's events
            reset_group_outputs(self.out_dir)
        rec = FarmRecorder(self.out_dir, path_names=path_names, menu_name=self.menu_name, resume=cfg.resume)
        expanded, live = self._plan(inputs, rec, "")
        expanded_bf, backlog = self._plan(backfill, rec, "b") if backfill else (ExpandedInputs([]), [])
        shards: list[Shard] = [s for _, _, ss in live + backlog for s in ss]
        t0 = time.perf_counter()
        conn = connect(address=self.address, num_cpus=self.num_cpus, include_dashboard=self.include_dashboard)
        pool: FilterPool | None = None
        actors: list[Any] = []
        progress = FarmProgress(total_events=sum(s.num_rows for s in shards), enabled=cfg.progress)
        try:
            # Hard affinity: a soft one spills to another node while the driver node's raylet is busy starting
            # workers, and sources must read the files where the driver found them.
            here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
            placed = {"scheduling_strategy": here} if cfg.placement == "driver" else {}
            # An async actor: writes wait for their group's commit (Ray's default of 1000 concurrent calls
            # leaves room for every batch the credits allow in flight).
            sink_cls = ray.remote(SinkActor).options(num_cpus=0, max_restarts=-1, max_task_retries=-1, **placed)
            group = {"max_group_batches": cfg.effective_sink_group_batches, "max_group_delay_s": cfg.sink_group_delay_s,
                     "yield_to_filters": cfg.paced}  # latency first when paced, throughput first when not
            sinks = [sink_cls.remote(str(self.out_dir), sink_index=k, **group) for k in range(cfg.sinks)]
            actors += sinks
            pool = FilterPool(engine_factory=self.engine_factory, sinks=sinks, cpus_per_filter=cfg.cpus_per_filter,
                              gpus_per_filter=cfg.gpus_per_filter, path_names=path_names)
            pool.add(cfg.filters)
            n_src = max(1, min(cfg.sources, max(_n_shards(live), _n_shards(backlog))))
            # A cluster this run started is this machine: every actor sees the files where the driver does.
            transport = cfg.transport if cfg.transport != "auto" else "file" if _one_machine(conn) else "object-store"
            src_cls = ray.remote(SourceActor).options(num_cpus=0, max_restarts=0, **placed)
            sources = [src_cls.remote(live=lp, backfill=bp, skip=rec.done, batch_size=cfg.batch_size,
                                      backfill_batch_size=cfg.effective_backfill_batch_size,
                                      rate_steps=cfg.rate_plan(1.0 / n_src), max_attempts=cfg.max_attempts,
                                      mapping=self.mapping, transport=transport)
                       for lp, bp in zip(_split(live, n_src), _split(backlog, n_src))]
            actors += sources
            self.controller = ctl = Controller(
                config=cfg, pool=pool, sources=sources, recorder=rec, policy=self.policy,
                metrics=FarmMetrics(menu_name=self.menu_name) if self.metrics else None, progress=progress,
                on_incident=self.on_incident, on_window=self.on_window, start_timeout_s=self.start_timeout_s)
            ctl.run()
            # Every batch is acknowledged by now, so no group should be open; commit any a late call left.
            ray.get([s.flush.remote() for s in sinks], timeout=300)
            wall_s = time.perf_counter() - rec.clock_start
            farm = ctl.summary(wall_s)
            in_flight = [ray.get(s.max_in_flight.remote()) for s in sources]
            farm["max_in_flight_per_filter"] = max((n for d in in_flight for n in d.values()), default=0)
            farm["ray"] = conn.describe()
            farm["startup_s"] = round(rec.clock_start - t0, 3)
            farm["transport"] = transport
            farm["live"] = {"events_in": rec.events_in - rec.backfill["events_in"],
                            "latency_ms": rec.latency.summary_ms()}
            farm["backfill"] = {**rec.backfill, "latency_ms": rec.backfill_latency.summary_ms(),
                                "inputs": expanded_bf.files}
            extra: dict[str, Any] = {
                "runtime": "ray",
                "config": asdict(cfg),
                "inputs": expanded.files,
                "duplicate_inputs": expanded.duplicates,
                "input_notes": self.notes,
                "farm": farm,
            }
            if ctl.pacing:
                extra["pacing"] = merge_summaries(ctl.pacing, rate_text=cfg.rate or cfg.rate_steps[-1][1])
            return rec.close(shards=shards, extra=extra)  # before teardown: wall time is the run's, not Ray's
        finally:
            progress.close()
            if pool is not None:
                pool.kill_all()
            for actor in actors:
                ray.kill(actor, no_restart=True)
            conn.close()


def _one_machine(conn: Any) -> bool:
    """Every node of the cluster is this machine, so every actor sees the files where the driver does.

    True for a cluster this run started, or one an embedding program started
    here (tests, benchmarks: all nodes on this host); False for a cluster joined
    by address (a RayCluster's pods do not share a filesystem unless told so).
    """
    if conn.started_here:
        return True
    if conn.address != "existing":
        return False
    here = ray.util.get_node_ip_address()
    return all(node["NodeManagerAddress"] == here for node in ray.nodes() if node["Alive"])
