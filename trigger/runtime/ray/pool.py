"""The filter pool: starting, leasing, draining and removing filter actors.

A filter actor asks Ray for ``cpus_per_filter`` CPUs and ``gpus_per_filter``
GPUs (a fraction lets several actors time-share one GPU). One that does not fit
stays *starting*: its pending resource demand is what makes the Ray autoscaler
(KubeRay: a worker pod) add a node. Only *ready* actors get credits; a
*draining* actor gets no new batches and is killed once nothing is in flight on
it, so scale-down loses no work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError

from trigger.errors import ConfigError
from trigger.runtime.ray.filter import FilterActor

__all__ = ["FilterPool", "Member"]

STARTING, READY, DRAINING = "starting", "ready", "draining"


@dataclass(slots=True)
class Member:
    """One filter actor of the pool.

    Attributes:
        fid: Its number.
        handle: The actor handle.
        state: ``starting``, ``ready`` or ``draining``.
        ready_ref: Resolves when its engine is built.
        created_s: When it was asked for (monotonic seconds).
        info: What :meth:`FilterActor.ready` returned.
    """

    fid: int
    handle: Any
    state: str
    ready_ref: Any
    created_s: float
    info: dict[str, Any] = field(default_factory=dict)


class FilterPool:
    """The filter actors of a run.

    Args:
        engine_factory: Builds each actor's engine (picklable).
        sinks: Sink actor handles, passed to every filter.
        cpus_per_filter: CPUs each actor asks for.
        gpus_per_filter: GPUs each actor asks for (fractions allowed).
        path_names: The driver's menu paths; an actor that compiled other paths is refused.
    """

    def __init__(self, *, engine_factory: Callable[[], Any], sinks: list[Any], cpus_per_filter: float,
                 gpus_per_filter: float, path_names: tuple[str, ...]) -> None:
        self._options = {"num_cpus": cpus_per_filter, "num_gpus": gpus_per_filter, "max_restarts": 0,
                         "max_concurrency": 1}
        self._cls = ray.remote(FilterActor)
        self.engine_factory = engine_factory
        self.sinks = sinks
        self.path_names = path_names
        self.members: dict[int, Member] = {}
        self._next_id = 0
        self.started = 0
        self.died = 0
        self.peak_ready = 0

    def ids(self, state: str) -> list[int]:
        """Filter ids in ``state``, oldest first."""
        return sorted(f for f, m in self.members.items() if m.state == state)

    def add(self, n: int) -> list[int]:
        """Ask for ``n`` more filter actors (they start asynchronously)."""
        out = []
        for _ in range(n):
            fid, self._next_id = self._next_id, self._next_id + 1
            handle = self._cls.options(**self._options).remote(fid, self.engine_factory, self.sinks)
            self.members[fid] = Member(fid, handle, STARTING, handle.ready.remote(), time.monotonic())
            self.started += 1
            out.append(fid)
        return out

    def poll_starting(self) -> list[int]:
        """Move actors whose engine is built to *ready*.

        Returns:
            The ids that became ready.

        Raises:
            ConfigError: If an actor could not build the engine (bad menu or model on that node).
        """
        starting = {m.ready_ref: m for m in self.members.values() if m.state == STARTING}
        if not starting:
            return []
        done, _ = ray.wait(list(starting), num_returns=len(starting), timeout=0)
        ready = []
        for ref in done:
            m = starting[ref]
            try:
                m.info = ray.get(ref)
            except RayTaskError as err:
                raise ConfigError(f"filter actor {m.fid} could not build the engine: {err}") from err
            except RayActorError:
                self.mark_dead(m.fid)
                continue
            if tuple(m.info["path_names"]) != tuple(self.path_names):
                raise ConfigError(f"filter actor {m.fid} compiled paths {m.info['path_names']}, the driver "
                                  f"{list(self.path_names)}: the menu differs between nodes")
            m.state = READY
            ready.append(m.fid)
        self.peak_ready = max(self.peak_ready, len(self.ids(READY)))
        return ready

    def drain(self, n: int) -> list[int]:
        """Stop giving batches to ``n`` actors (starting ones first, then the newest ready)."""
        chosen = []
        for fid in self.ids(STARTING)[::-1] + self.ids(READY)[::-1]:
            if len(chosen) == n or (self.members[fid].state == READY and len(self.ids(READY)) <= 1):
                break
            if self.members[fid].state == STARTING:
                self.remove(fid)  # never got work: nothing to drain
            else:
                self.members[fid].state = DRAINING
            chosen.append(fid)
        return chosen

    def remove(self, fid: int) -> None:
        """Kill an actor (drained, stuck starting, or unwanted)."""
        m = self.members.pop(fid, None)
        if m is not None:
            ray.kill(m.handle, no_restart=True)

    def mark_dead(self, fid: int) -> None:
        """Forget an actor that died (a source saw it, or its node went away)."""
        if self.members.pop(fid, None) is not None:
            self.died += 1

    def stuck(self, timeout_s: float) -> list[int]:
        """Actors starting for longer than ``timeout_s`` (no resources anywhere)."""
        now = time.monotonic()
        return [f for f in self.ids(STARTING) if now - self.members[f].created_s > timeout_s]

    def leases(self, n_sources: int, credits: int) -> list[dict[int, tuple[Any, int]]]:
        """Split the ready actors' credits among ``n_sources`` sources.

        Credit slot ``(filter, k)`` goes to source ``j % n_sources`` in turn, so
        a filter never has more than ``credits`` batches in flight in total.
        """
        out: list[dict[int, tuple[Any, int]]] = [{} for _ in range(n_sources)]
        slot = 0
        for k in range(credits):
            for fid in self.ids(READY):
                lease = out[slot % n_sources]
                handle, n = lease.get(fid, (self.members[fid].handle, 0))
                lease[fid] = (handle, n + 1)
                slot += 1
        return out

    def kill_all(self) -> None:
        """Kill every actor of the pool."""
        for fid in list(self.members):
            self.remove(fid)
