"""Live progress on the terminal: events/s, MB/s, kept fraction.

A rich progress bar when stderr is a terminal; otherwise one plain line every
``interval_s`` (for logs and CI), or nothing at all.
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["ProgressReporter"]


class ProgressReporter:
    """Reports a run's progress.

    Args:
        total_events: Events expected (for the bar), 0 if unknown.
        enabled: Show anything at all.
        interval_s: Seconds between plain-text lines when not on a terminal.
    """

    def __init__(self, *, total_events: int, enabled: bool = True, interval_s: float = 5.0) -> None:
        self.enabled = enabled
        self.total_events = total_events
        self.interval_s = interval_s
        self._t0 = time.perf_counter()
        self._last_line = self._t0
        self._progress: Any = None
        self._task: Any = None
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]replay"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} events"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                transient=False,
            )
            self._task = self._progress.add_task("replay", total=total_events or None, rate="")
            self._progress.start()

    def update(self, *, events: int, kept: int, bytes_in: int) -> None:
        """Show the counts so far."""
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        rate = (
            f"{events / elapsed:,.0f} ev/s  {bytes_in / elapsed / 1e6:,.1f} MB/s  "
            f"kept {kept / max(events, 1):.2%}"
        )
        if self._progress is not None:
            self._progress.update(self._task, completed=events, rate=rate)
        elif time.perf_counter() - self._last_line >= self.interval_s:
            self._last_line = time.perf_counter()
            print(f"[trigger] {events:,}/{self.total_events:,} events  {rate}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop the live display."""
        if self._progress is not None:
            self._progress.stop()
