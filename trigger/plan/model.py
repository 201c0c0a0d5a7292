"""The capacity model: farm size for a required input rate, from measured per-node figures.

A node must keep up with its share of the input on four resources; the farm
needs as many nodes as the most demanding one asks for, and that one is the
bottleneck:

- **compute**: core-seconds per event = 1 / (measured end-to-end events/s on
  one core) + the CPU copies of the payload: ``ingest_copies`` copies of every
  input byte on receipt (socket to Arrow buffer) and one copy of each kept
  event's bytes (the engine copies ``raw`` for kept events only), at the
  measured copy rate;
- **gpu**: model inferences (the fraction of events that pass the seeds of
  model paths) at the measured events/s per GPU;
- **network**: every input byte in, every kept byte out (to storage), through
  the node's NIC;
- **storage write**: kept bytes per node, when a per-node write rate is given.

Each is sized for ``target_utilization`` (headroom for bursts and for the
queues that keep latency bounded). The latency budget sets the largest batch:
an event waits for its batch to fill, behind ``credits - 1`` queued batches,
then for its own batch's service.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from trigger.plan.spec import NodeProfile, Requirement
from trigger.plan.units import format_bytes, format_rate

__all__ = ["CapacityPlanner", "Demand", "FarmPlan"]

#: Largest batch worth planning for (more only adds memory and latency).
MAX_BATCH_EVENTS = 65_536


@dataclass(frozen=True, slots=True)
class Demand:
    """How many nodes one resource asks for, and why.

    Attributes:
        resource: ``compute``, ``gpu``, ``network`` or ``storage write``.
        nodes: Nodes this resource alone needs.
        need: Total demand (in ``unit``).
        capacity_per_node: Usable capacity of one node (at the target utilization).
        unit: Unit of ``need`` and ``capacity_per_node``.
        reason: One sentence: the arithmetic.
    """

    resource: str
    nodes: int
    need: float
    capacity_per_node: float
    unit: str
    reason: str


@dataclass(frozen=True, slots=True)
class FarmPlan:
    """The farm size and why.

    Attributes:
        requirement: What was asked for.
        profile: The node it was sized with.
        nodes: Nodes needed.
        gpus: GPUs in the farm (nodes x GPUs per node).
        gpus_needed: GPUs the models keep busy at the target utilization.
        network_per_node_bytes_per_s: NIC traffic per node (in + kept out).
        storage_write_bytes_per_s: Total kept bytes per second to storage.
        bottleneck: The resource that sets ``nodes`` (or ``latency`` when the budget cannot be met).
        reason: Why, in one sentence.
        hint: What one node would need for the runner-up resource to set the size
            instead (empty when there is none).
        demands: Every resource's demand, compute first.
        core_seconds_per_event: CPU time per event, copies included.
        batch_events: Largest batch that meets the latency budget (capped at 65,536).
        batch_latency_s: Expected worst decision latency with that batch.
        memory_per_node_bytes: In-flight batches per node (cores x credits x batch bytes).
        partitions: Independent farms (one driver each, disjoint sources) so that
            no driver's control loop is busier than the target utilization; 1
            when the driver's cost per batch was not measured.
        feasible: False when even one-event batches miss the latency budget.
        assumptions: Lines printed with the plan.
    """

    requirement: Requirement
    profile: NodeProfile
    nodes: int
    gpus: int
    gpus_needed: int
    network_per_node_bytes_per_s: float
    storage_write_bytes_per_s: float
    bottleneck: str
    reason: str
    hint: str
    demands: tuple[Demand, ...]
    core_seconds_per_event: float
    batch_events: int
    batch_latency_s: float
    memory_per_node_bytes: float
    partitions: int
    feasible: bool
    assumptions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = asdict(self)
        out["requirement"]["input_events_per_s"] = self.requirement.input_events_per_s
        return out


def _num(value: float) -> str:
    """``2,101,000`` for big counts, ``32.2`` or ``0.0421`` for small ones (no exponents for people)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _nodes(need: float, per_node: float) -> int:
    # A hair of tolerance so that an exact fit (10.000000000000002 from float rounding) stays 10.
    return max(1, math.ceil(need / per_node - 1e-9))


class CapacityPlanner:
    """Sizes a farm of identical nodes.

    Args:
        profile: One node's measured capacity.
    """

    def __init__(self, profile: NodeProfile) -> None:
        self.profile = profile

    def core_seconds_per_event(self, req: Requirement) -> float:
        """CPU time per event: the measured decision cost plus the payload copies."""
        p = self.profile
        copied_bytes = (p.ingest_copies + req.accept_fraction) * req.event_size_bytes
        return 1.0 / p.core_events_per_s + copied_bytes / p.copy_bytes_per_s

    def demands(self, req: Requirement) -> tuple[Demand, ...]:
        """Nodes each resource needs on its own."""
        p, u = self.profile, self.profile.target_utilization
        events = req.input_events_per_s
        t_event = self.core_seconds_per_event(req)
        cores_per_node = p.cores * p.core_scaling * u
        out = [Demand(
            "compute", _nodes(events * t_event, cores_per_node), events * t_event, cores_per_node, "cores",
            f"{format_rate(events, 'events')} x {_num(t_event * 1e6)} us/event = {_num(events * t_event)} busy cores; "
            f"a node gives {p.cores} cores x {p.core_scaling:.2f} scaling x {u:.0%} = {_num(cores_per_node)}")]
        if p.model_fraction > 0 and p.gpu_events_per_s:
            inferences = events * p.model_fraction
            per_node = p.gpus * p.gpu_events_per_s * u
            out.append(Demand(
                "gpu", _nodes(inferences, per_node), inferences, per_node, "inferences/s",
                f"{p.model_fraction:.1%} of events reach a model: {format_rate(inferences, 'events')}; a node gives "
                f"{p.gpus} GPUs x {format_rate(p.gpu_events_per_s, 'events')} x {u:.0%}"))
        traffic = req.input_bytes_per_s + req.output_bytes_per_s
        nic = p.nic_bytes_per_s * u
        out.append(Demand(
            "network", _nodes(traffic, nic), traffic, nic, "bytes/s",
            f"{format_rate(req.input_bytes_per_s, 'bytes')} in + {format_rate(req.output_bytes_per_s, 'bytes')} "
            f"kept out; a node's NIC gives {format_rate(p.nic_bytes_per_s, 'bytes')} x {u:.0%}"))
        if p.storage_write_bytes_per_s is not None:
            write = p.storage_write_bytes_per_s * u
            out.append(Demand(
                "storage write", _nodes(req.output_bytes_per_s, write), req.output_bytes_per_s, write, "bytes/s",
                f"{format_rate(req.output_bytes_per_s, 'bytes')} kept; a node writes "
                f"{format_rate(p.storage_write_bytes_per_s, 'bytes')} x {u:.0%}"))
        return tuple(out)

    def batch(self, req: Requirement) -> tuple[int, float]:
        """The largest batch meeting the latency budget, and its expected worst latency.

        An event waits for its batch to fill (at the utilization, a filter
        receives events at ``u`` times its service rate), behind ``credits - 1``
        queued batches, then for its own batch: ``B * t * (1/u + credits)``.

        Returns:
            (events per batch, latency in s); 0 events when one event alone misses the budget.
        """
        p = self.profile
        t_event = self.core_seconds_per_event(req)
        per_event_latency = t_event * (1.0 / p.target_utilization + p.credits)
        n = min(MAX_BATCH_EVENTS, math.floor(req.latency_budget_s / per_event_latency))
        return n, max(n, 1) * per_event_latency

    def plan(self, req: Requirement) -> FarmPlan:
        """Size the farm for ``req``."""
        p = self.profile
        demands = self.demands(req)
        top = max(demands, key=lambda d: d.nodes)  # first listed wins a tie
        nodes = top.nodes
        batch_events, batch_latency_s = self.batch(req)
        feasible = batch_events >= 1
        if feasible:
            bottleneck = top.resource
            others = ", ".join(f"{d.resource} {d.nodes:,}" for d in demands if d is not top)
            reason = f"{top.resource} needs the most nodes ({nodes:,}; {others}): {top.reason}"
        else:
            bottleneck = "latency"
            reason = (f"one event takes {self.core_seconds_per_event(req) * 1e3:,.3g} ms of a core, and with "
                      f"{p.credits} credits at {p.target_utilization:.0%} utilization an event waits "
                      f"{batch_latency_s * 1e3:,.3g} ms: more than the {req.latency_budget_s * 1e3:,.4g} ms budget "
                      "whatever the farm size; raise the budget, split events, or make a core faster")
        partitions = 1
        if p.driver_cpu_s_per_batch and feasible:
            batches_per_s = req.input_events_per_s / batch_events
            partitions = _nodes(batches_per_s * p.driver_cpu_s_per_batch, p.target_utilization)
        gpus_needed = 0
        for d in demands:
            if d.resource == "gpu" and p.gpu_events_per_s:
                gpus_needed = math.ceil(d.need / (p.gpu_events_per_s * p.target_utilization) - 1e-9)
        return FarmPlan(
            requirement=req, profile=p, nodes=nodes, gpus=nodes * p.gpus, gpus_needed=gpus_needed,
            network_per_node_bytes_per_s=(req.input_bytes_per_s + req.output_bytes_per_s) / nodes,
            storage_write_bytes_per_s=req.output_bytes_per_s, bottleneck=bottleneck, reason=reason,
            hint=self.hint(top, demands) if feasible else "", demands=demands, core_seconds_per_event=self.core_seconds_per_event(req),
            batch_events=batch_events, batch_latency_s=batch_latency_s,
            memory_per_node_bytes=p.cores * p.credits * max(batch_events, 1) * req.event_size_bytes,
            partitions=partitions, feasible=feasible, assumptions=self.assumptions(req))

    def hint(self, top: Demand, demands: tuple[Demand, ...]) -> str:
        """How much more of the bottleneck resource one node needs for the runner-up to set the size."""
        p, u = self.profile, self.profile.target_utilization
        rest = [d for d in demands if d.nodes < top.nodes]
        if not rest:
            return ""
        second = max(rest, key=lambda d: d.nodes)
        per_node = top.need / second.nodes / u  # raw capacity per node, before the utilization headroom
        if top.resource == "compute":
            amount = f"{math.ceil(per_node / p.core_scaling):,} cores"
        elif top.resource == "gpu":
            amount = f"{math.ceil(per_node / (p.gpu_events_per_s or 1.0)):,} GPUs"
        else:
            amount = f"{per_node * 8 / 1e9:,.4g} Gbit/s of {'NIC' if top.resource == 'network' else 'storage write'}"
        plural = "" if second.nodes == 1 else "s"
        return f"with {amount} per node, {second.resource} would set the size instead: {second.nodes:,} node{plural}"

    def assumptions(self, req: Requirement) -> tuple[str, ...]:
        """What the plan takes for granted, one line each."""
        p = self.profile
        lines = [
            (f"input {format_rate(req.input_bytes_per_s, 'bytes')} of {format_bytes(req.event_size_bytes)} events = "
            f"{format_rate(req.input_events_per_s, 'events')}; {req.accept_fraction:.3g} kept "
            f"({format_rate(req.input_events_per_s * req.accept_fraction, 'events')})"),
            f"node: {p.cores} cores, {p.gpus} GPUs, NIC {format_rate(p.nic_bytes_per_s, 'bytes')} "
            f"({p.nic_bytes_per_s * 8 / 1e9:,.4g} Gbit/s)"
            + (f", storage write {format_rate(p.storage_write_bytes_per_s, 'bytes')}"
               if p.storage_write_bytes_per_s is not None else ", storage write not a per-node limit"),
            (f"decision cost per event does not grow with its payload (rejected events are never copied: "
            f"see the payload sweep); {format_rate(p.core_events_per_s, 'events')} per core end to end"),
            (f"CPU copies: {p.ingest_copies} of every input byte on receipt + 1 of every kept byte, at "
            f"{format_rate(p.copy_bytes_per_s, 'bytes')} per core"),
            f"all cores together: {p.core_scaling:.2f} of linear scaling",
            f"every resource sized for {p.target_utilization:.0%} utilization; {p.credits} batches in flight per core",
            "kept events leave through the same NIC; the network fabric and storage system scale with the nodes",
            ("no central component on the data path: sources dispatch straight to filters, the driver only "
            "records small results (see bench/results/scaling.json)"),
        ]
        if p.driver_cpu_s_per_batch:
            lines.append(f"a farm's driver spends {p.driver_cpu_s_per_batch * 1e6:,.0f} us CPU per batch (measured "
                         "as sources and filters were added); beyond one driver's capacity the farm splits into partitions")
        if p.model_fraction > 0:
            lines.append(f"{p.model_fraction:.1%} of events reach a model at "
                         f"{format_rate(p.gpu_events_per_s or 0.0, 'events')} per GPU")
        return tuple(lines) + tuple(f"figure: {s}" for s in p.sources)
