"""Measured per-node figures for the capacity plan, read from benchmark results (``bench/results/*.json``).

Each results file is recognized by what it holds, not by its name:

- ``replay.json`` (``trigger bench replay``): end-to-end events/s on one core
  from Arrow IPC (read, features, decisions, write), and two cores over one
  (the per-core scaling);
- ``peers.json`` (``trigger bench peers``): the engine's events/s on one core,
  used when no replay result is given;
- ``payload.json`` (``trigger bench payload``): the rate a core copies kept
  payload bytes;
- ``scaling.json`` (``trigger bench scaling``): the driver's CPU per batch;
- a GPU check (``python -m bench.gpu_check --out FILE``): model events/s per
  GPU (with several models, each event runs all of them: the combined rate).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trigger.errors import ConfigError
from trigger.plan.units import format_rate

__all__ = ["MeasuredFigures", "load_figures"]


@dataclass(frozen=True, slots=True)
class MeasuredFigures:
    """What the results files measured (None: not measured).

    Attributes:
        core_events_per_s: End-to-end events/s on one core.
        core_scaling: Per-core efficiency with every core busy (2 cores / 2 x 1 core, at most 1).
        copy_bytes_per_s: Kept payload bytes one core copies per second.
        gpu_events_per_s: Events/s one GPU scores through every model.
        driver_cpu_s_per_batch: A farm driver's CPU seconds per batch.
        sources: One line per figure: its value and the file it came from.
        ignored: Files that held none of these figures.
    """

    core_events_per_s: float | None = None
    core_scaling: float | None = None
    copy_bytes_per_s: float | None = None
    gpu_events_per_s: float | None = None
    driver_cpu_s_per_batch: float | None = None
    sources: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"results file {path} does not exist; run `trigger bench replay` to make "
                          "bench/results/replay.json, or give the per-core rate with --core-rate") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"results file {path} cannot be read as JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"results file {path}: expected a JSON object, found {type(data).__name__}")
    return data


def _where(path: Path, data: dict[str, Any]) -> str:
    env = data.get("environment") or {}
    machine = f"{env.get('cpu', '?')}, commit {env.get('commit', '?')}, {env.get('date', '?')}" if env else "no machine"
    return f"{path.name} ({machine})"


def _number(value: Any, path: Path, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"results file {path}: {key} is {value!r}; expected a positive number "
                          "(rerun the benchmark that wrote it)")
    return float(value)


def _from_replay(data: dict[str, Any], path: Path, found: dict[str, Any], lines: list[str]) -> None:
    e2e = data["end_to_end_events_per_s"]
    if "ipc_1core" not in e2e:
        raise ConfigError(f"results file {path}: end_to_end_events_per_s has no 'ipc_1core' entry "
                          f"(found {', '.join(e2e)}); rerun `trigger bench replay`")
    one = _number(e2e["ipc_1core"].get("median"), path, "end_to_end_events_per_s.ipc_1core.median")
    found["core_events_per_s"] = one
    lines.append(f"{format_rate(one, 'events')} per core end to end from Arrow IPC, median: {_where(path, data)}")
    # Engine processes (as a farm's filter actors are) when measured; else engine threads.
    key = "ipc_2proc" if "ipc_2proc" in e2e else "ipc_2core" if "ipc_2core" in e2e else None
    if key is not None:
        two = _number(e2e[key].get("median"), path, f"end_to_end_events_per_s.{key}.median")
        found["core_scaling"] = min(1.0, two / (2 * one))
        how = "engine processes" if key == "ipc_2proc" else "engine threads"
        lines.append(f"2 cores / 1 core = {two / one:.2f} ({how}), so {found['core_scaling']:.2f} of linear: "
                     f"{_where(path, data)}")


def _from_gpu_check(data: dict[str, Any], path: Path) -> float | None:
    """Combined events/s per GPU over every model (best batch size each, GPU providers only)."""
    rates = []
    for providers in data["models"].values():
        best = [float(row["events_per_s"]) for provider, result in (providers or {}).items()
                if provider.lower() != "cpu" and isinstance(result, dict)
                for row in (result.get("sizes") or {}).values() if row.get("events_per_s")]
        if best:
            rates.append(max(best))
    return 1.0 / sum(1.0 / r for r in rates) if rates else None


def load_figures(paths: Sequence[str | Path]) -> MeasuredFigures:
    """Read the figures from results files (later files override earlier ones for the same figure).

    Raises:
        ConfigError: A file is missing, not JSON, or holds a figure that is not a positive number.
    """
    found: dict[str, Any] = {}
    lines: list[str] = []
    ignored: list[str] = []
    fallback: tuple[float, str] | None = None
    for raw in paths:
        path = Path(raw)
        data = _read(path)
        used = False
        if isinstance(data.get("end_to_end_events_per_s"), dict):
            _from_replay(data, path, found, lines)
            used = True
        if isinstance(data.get("peers"), dict) and "engine" in data["peers"]:
            rate = _number(data["peers"]["engine"]["events_per_s"]["median"], path, "peers.engine.events_per_s")
            fallback = (rate, (f"{format_rate(rate, 'events')} per core (engine, decisions only, no write), "
                              f"median: {_where(path, data)}"))
            used = True
        if data.get("copy_bytes_per_s") is not None:
            found["copy_bytes_per_s"] = _number(data["copy_bytes_per_s"], path, "copy_bytes_per_s")
            lines.append(f"kept payload copied at {format_rate(found['copy_bytes_per_s'], 'bytes')} per core: "
                         f"{_where(path, data)}")
            used = True
        if isinstance(data.get("points"), list) and any("driver_cpu_us_per_batch" in p for p in data["points"]):
            slopes = [p["driver_cpu_us_per_batch"] for p in data["points"] if p.get("driver_cpu_us_per_batch")]
            if slopes:
                found["driver_cpu_s_per_batch"] = statistics.median(slopes) / 1e6
                lines.append(f"driver CPU {statistics.median(slopes):,.0f} us per batch (median over "
                             f"{len(slopes)} source/filter counts): {_where(path, data)}")
            used = True
        if isinstance(data.get("models"), dict) and "available" in data:
            rate = _from_gpu_check(data, path)
            if rate:
                found["gpu_events_per_s"] = rate
                lines.append(f"{format_rate(rate, 'events')} per GPU through every model: {_where(path, data)}")
            used = True
        if not used:
            ignored.append(str(path))
    if "core_events_per_s" not in found and fallback is not None:
        found["core_events_per_s"] = fallback[0]
        lines.append(fallback[1])
    return MeasuredFigures(**found, sources=tuple(lines), ignored=tuple(ignored))
