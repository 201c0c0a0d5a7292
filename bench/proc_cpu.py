"""CPU seconds per process role, read from ``/proc`` (Linux): where a farm's cores go.

A farm run is a handful of processes: filter, sink and source actors, the
driver, the raylet, the GCS. :func:`cpu_by_role` snapshots the user + system
CPU of each, grouped by role from the process title Ray sets
(``ray::FilterActor``...), and :func:`split_per_batch` turns two snapshots into
milliseconds of CPU per batch per role: the figures that bound how much a
second filter can add on a machine with few cores.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROLES", "cpu_by_role", "split_per_batch"]

#: Role -> substring of the process title (``comm`` for Ray's C++ processes).
ROLES: dict[str, str] = {
    "filters": "ray::FilterActor", "sink": "ray::SinkActor", "source": "ray::SourceActor",
    "raylet": "raylet", "gcs": "gcs_server",
}


def _title(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_by_role(*, driver_pid: int | None = None) -> dict[str, float] | None:
    """User + system CPU seconds so far of every process, summed per role.

    Args:
        driver_pid: The process counted as ``driver`` (default: this one).

    Returns:
        Role -> CPU seconds (``other`` for processes of no role), or None where
        ``/proc`` is not there (not Linux).
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    driver = os.getpid() if driver_pid is None else driver_pid
    tick = os.sysconf("SC_CLK_TCK")
    out = dict.fromkeys((*ROLES, "driver", "other"), 0.0)
    for stat in proc.glob("[0-9]*/stat"):
        try:
            data = stat.read_text()
        except OSError:
            continue  # the process ended meanwhile
        pid = int(stat.parent.name)
        comm = data[data.index("(") + 1:data.rindex(")")]
        fields = data[data.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if pid == driver:
            out["driver"] += seconds
            continue
        title = _title(pid)
        role = next((r for r, key in ROLES.items() if key in title or key == comm), "other")
        out[role] += seconds
    return out


def split_per_batch(before: dict[str, float], after: dict[str, float], *, batches: float,
                    wall_s: float) -> dict[str, float]:
    """Milliseconds of CPU per batch per role between two snapshots, and the cores they kept busy.

    Processes that started or ended between the snapshots count from zero or
    not at all: take ``before`` once the farm's actors are up.

    Args:
        before: :func:`cpu_by_role` before.
        after: The same, ``wall_s`` seconds later.
        batches: Batches decided between the two.
        wall_s: Seconds between the two.

    Returns:
        ``<role>_ms_per_batch`` for each role (``filters``: all filter actors
        together, i.e. the filter CPU one batch costs); ``outside_filters_ms_per_batch``
        and ``total_ms_per_batch`` (roles only, not ``other``); ``cores_busy``;
        ``batches_per_s``.
    """
    per = {role: 1e3 * max(0.0, after[role] - before.get(role, 0.0)) / batches for role in after}
    out = {f"{role}_ms_per_batch": round(value, 2) for role, value in per.items()}
    outside = sum(v for role, v in per.items() if role not in ("filters", "other"))
    out["outside_filters_ms_per_batch"] = round(outside, 2)
    out["total_ms_per_batch"] = round(outside + per["filters"], 2)
    out["cores_busy"] = round((outside + per["filters"]) * batches / 1e3 / wall_s, 2)
    out["batches_per_s"] = round(batches / wall_s, 2)
    return out
