"""Live farm progress on the terminal: the local progress line plus pool, latency, deadtime and path rates.

On a terminal: the local runtime's bar (events, ev/s, MB/s, kept fraction) and
under it one line of farm state and one of per-path rates, refreshed in place.
Otherwise one plain line every ``interval_s`` (for logs and CI), or nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["FarmProgress", "farm_line", "path_line"]


def farm_line(*, pool: Mapping[str, int], p99_ms: float | None, budget_ms: float, deadtime_fraction: float,
              in_flight: int, backfill_events: int, p50_ms: float | None = None) -> str:
    """One line of farm state (latency of the last window)."""
    p99 = "-" if p99_ms is None else f"{p99_ms:,.0f} ms"
    if p50_ms is not None:
        p99 = f"{p50_ms:,.0f} ms, p99 {p99}"
    extra = f"  backfill {backfill_events:,} ev" if backfill_events else ""
    starting = f" (+{pool['starting']} starting)" if pool.get("starting") else ""
    draining = f" (-{pool['draining']} draining)" if pool.get("draining") else ""
    return (f"pool {pool.get('ready', 0)}{starting}{draining}  {'p50' if p50_ms is not None else 'p99'} {p99} / "
            f"budget {budget_ms:,.0f} ms  "
            f"deadtime {deadtime_fraction:.1%}  in flight {in_flight}{extra}")


def path_line(rates_hz: Mapping[str, float], *, limit: int = 6) -> str:
    """The busiest paths' accept rates."""
    top = sorted(rates_hz.items(), key=lambda kv: -kv[1])[:limit]
    return "  ".join(f"{p} {r:,.0f} Hz" for p, r in top) or "no path fired yet"


class FarmProgress:
    """Progress of a farm run.

    Args:
        total_events: Events expected (0 if unknown).
        enabled: Show anything at all.
        interval_s: Seconds between plain lines when not on a terminal.
    """

    def __init__(self, *, total_events: int, enabled: bool = True, interval_s: float = 5.0) -> None:
        self.enabled = enabled
        self.interval_s = interval_s
        self.total_events = total_events
        self._t0 = self._last = time.perf_counter()
        self._live: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Group
            from rich.live import Live
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
            from rich.text import Text

            # The local runtime's columns, then two farm lines under the bar.
            self._progress = Progress(TextColumn("[bold]farm"), BarColumn(),
                                      TextColumn("{task.completed:,}/{task.total:,} events"),
                                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn())
            self._task = self._progress.add_task("farm", total=total_events or None, rate="")
            self._farm, self._paths = Text(""), Text("")
            self._live = Live(Group(self._progress, self._farm, self._paths), refresh_per_second=4,
                              console=self._progress.console)
            self._live.start()

    def update(self, *, events: int, kept: int, bytes_in: int, farm: str, paths: str) -> None:
        """Show the counts so far and the farm state."""
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        rate = f"{events / elapsed:,.0f} ev/s  {bytes_in / elapsed / 1e6:,.1f} MB/s  kept {kept / max(events, 1):.2%}"
        if self._live is not None:
            self._progress.update(self._task, completed=events, rate=rate)
            self._farm.plain = farm
            self._paths.plain = paths
        elif time.perf_counter() - self._last >= self.interval_s:
            self._last = time.perf_counter()
            print(f"[trigger farm] {events:,}/{self.total_events:,} events  {rate}\n"
                  f"[trigger farm]   {farm}\n[trigger farm]   {paths}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop the live display."""
        if self._live is not None:
            self._live.stop()
