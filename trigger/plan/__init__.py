"""Capacity planning: the farm size (nodes, GPUs, network) for an input rate, from measured figures.

See :mod:`trigger.plan.model` for the model, :mod:`trigger.plan.profile` for
the figures read from benchmark results and ``trigger plan`` for the command.
"""

from __future__ import annotations

from trigger.plan.model import CapacityPlanner, Demand, FarmPlan
from trigger.plan.profile import MeasuredFigures, load_figures
from trigger.plan.render import render_plan
from trigger.plan.spec import NodeProfile, Requirement
from trigger.plan.units import (
    Rate,
    parse_accept,
    parse_bytes,
    parse_duration,
    parse_input_rate,
)

__all__ = [
    "CapacityPlanner",
    "Demand",
    "FarmPlan",
    "MeasuredFigures",
    "NodeProfile",
    "Rate",
    "Requirement",
    "load_figures",
    "parse_accept",
    "parse_bytes",
    "parse_duration",
    "parse_input_rate",
    "render_plan",
]
