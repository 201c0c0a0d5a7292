"""Credit-based flow control, as a source actor sees it (pure asyncio, no Ray).

Each filter actor accepts at most ``credits`` batches in flight (a batch is in
flight from its dispatch until the sink committed its kept rows); the driver
splits those credits among the source actors as *leases* (filter id -> how many
of its credits this source may use), so the credits of a filter are never
over-committed whatever the number of sources. A source takes a credit before
it dispatches a batch and gets it back when the batch's sink committed its
outputs: a source without credit waits, and that wait is the deadtime. Memory
is thus bounded by ``filters * credits`` batches (plus, per source, one being
read and one put into the object store ahead of its credit).

Priorities: live batches take any free credit; backfill batches take a credit
only on a filter with nothing in flight from this source and only while no live
batch waits, so live data always wins and waits behind at most one (small)
backfill batch. When the live input is exhausted, backfill uses every credit.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["CreditPool"]


class CreditPool:
    """Leased credits on filter actors, with live-over-backfill priority."""

    def __init__(self) -> None:
        self.handles: dict[int, Any] = {}
        self.limits: dict[int, int] = {}
        self.in_flight: dict[int, int] = {}
        self.dead: set[int] = set()
        self.live_waiting = 0
        self.live_finished = False
        self.backfill_paused = False
        self.max_in_flight_seen: dict[int, int] = {}
        self._cond = asyncio.Condition()
        self._rr = 0

    async def set_leases(self, leases: dict[int, tuple[Any, int]]) -> None:
        """Replace the leases (filters that left keep their in-flight count until it drains)."""
        async with self._cond:
            self.limits = {fid: n for fid, (_, n) in leases.items() if fid not in self.dead}
            self.handles.update({fid: h for fid, (h, _) in leases.items()})
            for fid in self.limits:
                self.in_flight.setdefault(fid, 0)
            self._cond.notify_all()

    async def set_flags(self, *, live_finished: bool | None = None, backfill_paused: bool | None = None) -> None:
        """Change the backfill gates."""
        async with self._cond:
            if live_finished is not None:
                self.live_finished = live_finished
            if backfill_paused is not None:
                self.backfill_paused = backfill_paused
            self._cond.notify_all()

    def _pick(self, live: bool) -> int | None:
        if not live and (self.backfill_paused or self.live_waiting) and not self.live_finished:
            return None
        best, best_free = None, 0
        fids = sorted(self.limits)
        n = len(fids)
        for k in range(n):  # rotate the start so equal filters share the load
            fid = fids[(self._rr + k) % n]
            busy = self.in_flight.get(fid, 0)
            free = self.limits[fid] - busy
            if not live and not self.live_finished and busy:
                continue  # backfill only into an idle filter
            if free > best_free:
                best, best_free = fid, free
        if best is not None:
            self._rr += 1
        return best

    async def acquire(self, *, live: bool = True) -> int:
        """Wait for a credit and take it.

        Args:
            live: Live priority (else backfill).

        Returns:
            The filter id the credit is on.
        """
        async with self._cond:
            if live:
                self.live_waiting += 1
            try:
                while (fid := self._pick(live)) is None:
                    await self._cond.wait()
            finally:
                if live:
                    self.live_waiting -= 1
            self.in_flight[fid] = self.in_flight.get(fid, 0) + 1
            self.max_in_flight_seen[fid] = max(self.max_in_flight_seen.get(fid, 0), self.in_flight[fid])
            return fid

    async def release(self, fid: int) -> None:
        """Return a credit."""
        async with self._cond:
            self.in_flight[fid] = max(0, self.in_flight.get(fid, 0) - 1)
            self._cond.notify_all()

    async def mark_dead(self, fid: int) -> None:
        """Stop using a filter whose actor died."""
        async with self._cond:
            self.dead.add(fid)
            self.limits.pop(fid, None)
            self._cond.notify_all()

    def handle(self, fid: int) -> Any:
        """The actor handle of a filter."""
        return self.handles[fid]

    def in_flight_by_filter(self) -> dict[int, int]:
        """Filter id -> batches in flight there (non-zero only).

        A batch holds its credit until the sink committed its outputs: a draining
        filter is killed only at 0, when no sink still reads kept rows it owns.
        """
        return {fid: n for fid, n in self.in_flight.items() if n}
