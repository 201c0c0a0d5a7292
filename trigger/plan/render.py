"""The capacity plan as text for the terminal."""

from __future__ import annotations

from trigger.plan.model import FarmPlan
from trigger.plan.units import format_bytes, format_rate

__all__ = ["render_plan"]


def _need(value: float, unit: str) -> str:
    if unit == "bytes/s":
        return format_rate(value, "bytes")
    if unit == "inferences/s":
        return format_rate(value, "events")
    return (f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}") + f" {unit}"


def render_plan(plan: FarmPlan) -> str:
    """Assumptions, the demand of each resource, the farm size and its bottleneck."""
    req = plan.requirement
    lines = ["Assumptions:"]
    lines += [f"  - {a}" for a in plan.assumptions]
    lines += ["", f"{'resource':<15}{'nodes':>12}  {'demand':>14}  {'per node':>14}  why"]
    for d in plan.demands:
        mark = " <- bottleneck" if d.resource == plan.bottleneck else ""
        lines.append(f"{d.resource:<15}{d.nodes:>12,}  {_need(d.need, d.unit):>14}  "
                     f"{_need(d.capacity_per_node, d.unit):>14}  {d.reason}{mark}")
    lines.append("")
    if not plan.feasible:
        lines.append(f"NOT FEASIBLE: the latency budget ({req.latency_budget_s * 1e3:,.4g} ms) cannot be met: "
                     f"{plan.reason}")
        return "\n".join(lines)
    lines += [
        f"Farm: {plan.nodes:,} nodes, {plan.gpus:,} GPUs"
        + (f" ({plan.gpus_needed:,} busy with models)" if plan.gpus_needed else "")
        + f", {format_rate(plan.network_per_node_bytes_per_s, 'bytes')} "
          f"({plan.network_per_node_bytes_per_s * 8 / 1e9:,.4g} Gbit/s) of network per node",
        f"Bottleneck: {plan.bottleneck}. {plan.reason}" + (f"; {plan.hint}" if plan.hint else ""),
        f"Storage: {format_rate(plan.storage_write_bytes_per_s, 'bytes')} of kept events in total",
        (f"Batches: up to {plan.batch_events:,} events ({format_bytes(plan.batch_events * req.event_size_bytes)}) for "
        f"a worst decision latency of ~{plan.batch_latency_s * 1e3:,.3g} ms within the "
        f"{req.latency_budget_s * 1e3:,.4g} ms budget; {format_bytes(plan.memory_per_node_bytes)} in flight per node"),
    ]
    if plan.partitions > 1:
        lines.append(f"Control plane: {plan.partitions:,} independent farms (a driver each, disjoint sources): one "
                     "driver would be busier than the target utilization recording that many batches")
    return "\n".join(lines)
