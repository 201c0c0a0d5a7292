"""Options of a farm run (what ``trigger farm replay`` sets)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trigger.errors import ConfigError

__all__ = ["FarmConfig"]


@dataclass(frozen=True, slots=True)
class FarmConfig:
    """Options of a farm replay.

    Attributes:
        filters: Filter actors at the start.
        min_filters: Smallest pool the autoscaler may shrink to (default: ``filters``).
        max_filters: Largest pool it may grow to (default: ``filters``); the pool
            autoscales only when ``min_filters < max_filters``.
        cpus_per_filter: CPUs each filter actor asks Ray for.
        gpus_per_filter: GPUs each filter actor asks for (fractions share a GPU).
        credits: In-flight batches per filter actor (one deciding, the rest queued
            there); bounds memory at about ``filters * credits`` batches.
        batch_size: Events per batch (at most).
        sources: Source actors (the input files are split among them).
        sinks: Sink actors writing the kept streams.
        rate_events_per_s: Paced replay at this total rate; None emits as fast
            as credits allow (throughput mode).
        rate_steps: Load steps for paced replay: ``((t_s, events_per_s), ...)``
            applied in order from ``t_s`` seconds after the start (overrides
            ``rate_events_per_s`` from the first step on).
        latency_budget_ms: Decision latency the p99 must stay under (autoscaling).
        target_utilization: Busy fraction the autoscaler sizes the pool for.
        scale_up_cooldown_s: Seconds between a pool change and the next scale-up.
        scale_down_cooldown_s: Seconds between a pool change and the next scale-down.
        backfill_batch_size: Events per backfill batch (small, so that a live
            batch arriving behind one waits little); default ``batch_size // 4``.
        backfill_margin_ms: Live p99 may exceed the budget by this much because
            of backfill; beyond it backfill pauses until the live latency recovers.
        tick_s: Control-loop period of the driver (polls, metrics, scaling).
        max_attempts: Dispatches of one batch before it is quarantined as a
            poison batch (each failed attempt lost its filter actor).
        resume: Skip batches already in ``DIR/ledger.jsonl`` (a restarted driver).
        progress: Live terminal progress.
        placement: ``"driver"`` pins sources and sinks to the driver's node
            (where the files are); ``"any"`` lets Ray place them.
    """

    filters: int = 2
    min_filters: int | None = None
    max_filters: int | None = None
    cpus_per_filter: float = 1.0
    gpus_per_filter: float = 0.0
    credits: int = 2
    batch_size: int = 65_536
    sources: int = 1
    sinks: int = 1
    rate_events_per_s: float | None = None
    rate_steps: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    latency_budget_ms: float = 500.0
    target_utilization: float = 0.7
    scale_up_cooldown_s: float = 2.0
    scale_down_cooldown_s: float = 10.0
    backfill_batch_size: int | None = None
    backfill_margin_ms: float = 50.0
    tick_s: float = 0.05
    max_attempts: int = 4
    resume: bool = False
    progress: bool = True
    placement: str = "driver"

    def __post_init__(self) -> None:
        for name in ("filters", "credits", "batch_size", "sources", "sinks", "max_attempts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"farm option {name} must be >= 1, got {getattr(self, name)}")
        lo, hi = self.pool_bounds
        if not 1 <= lo <= self.filters <= hi:
            raise ConfigError(
                f"need 1 <= min_filters ({lo}) <= filters ({self.filters}) <= max_filters ({hi}); "
                "set --filters between --min-filters and --max-filters"
            )
        if self.cpus_per_filter < 0 or self.gpus_per_filter < 0:
            raise ConfigError("cpus_per_filter and gpus_per_filter must be >= 0")
        if self.cpus_per_filter == 0 and self.gpus_per_filter == 0:
            raise ConfigError("a filter actor must ask for some CPU or GPU (both are 0)")
        if self.gpus_per_filter > 1 and self.gpus_per_filter != int(self.gpus_per_filter):
            raise ConfigError(f"gpus_per_filter above 1 must be whole, got {self.gpus_per_filter}")
        if self.rate_events_per_s is not None and self.rate_events_per_s <= 0:
            raise ConfigError(f"rate must be > 0 events/s, got {self.rate_events_per_s}")
        if any(r <= 0 or t < 0 for t, r in self.rate_steps):
            raise ConfigError(f"rate steps need t_s >= 0 and a rate > 0 (a paused source would never finish), "
                              f"got {self.rate_steps}")
        if self.latency_budget_ms <= 0 or self.tick_s <= 0:
            raise ConfigError("latency_budget_ms and tick_s must be > 0")
        if self.placement not in ("driver", "any"):
            raise ConfigError(f"placement must be 'driver' or 'any', got {self.placement!r}")
        if self.backfill_batch_size is not None and self.backfill_batch_size < 1:
            raise ConfigError(f"backfill_batch_size must be >= 1, got {self.backfill_batch_size}")

    @property
    def pool_bounds(self) -> tuple[int, int]:
        """``(min_filters, max_filters)`` with defaults filled in."""
        lo = self.filters if self.min_filters is None else self.min_filters
        hi = self.filters if self.max_filters is None else self.max_filters
        return lo, hi

    @property
    def autoscaling(self) -> bool:
        """True when the pool may change size with the load."""
        lo, hi = self.pool_bounds
        return lo < hi

    @property
    def paced(self) -> bool:
        """True in paced replay (a rate or load steps given)."""
        return self.rate_events_per_s is not None or bool(self.rate_steps)

    def rate_at(self, t_s: float) -> float | None:
        """The offered rate ``t_s`` seconds after the start (None: as fast as possible)."""
        rate = self.rate_events_per_s
        for start_s, step_rate in self.rate_steps:
            if t_s >= start_s:
                rate = step_rate
        return rate

    @property
    def effective_backfill_batch_size(self) -> int:
        """Events per backfill batch."""
        return self.backfill_batch_size or max(1, self.batch_size // 4)
