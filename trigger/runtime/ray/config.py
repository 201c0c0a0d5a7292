"""Options of a farm run (what ``trigger farm replay`` sets)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trigger.errors import ConfigError
from trigger.io.pacer import Rate, parse_rate

__all__ = ["TRANSPORTS", "FarmConfig"]


TRANSPORTS = ("auto", "object-store", "file")


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
            there or waiting for their sink commit); bounds memory at about
            ``filters * credits`` batches. 3: a batch holds its credit until its
            group is committed, and with 2 the filters sat idle waiting for
            credit (2 filters on 2 cores: 2.55M events/s with 2, 2.94M with 3).
        batch_size: Events per batch (at most).
        sources: Source actors (the shards of the input files are dealt among them).
        sinks: Sink actors writing the kept streams.
        sink_group_batches: Batches a sink commits in one file per stream
            (default: half the credits of the smallest pool, at least 1: a
            batch's credit is held until its group is committed).
        sink_group_delay_s: A sink commits a group at the latest this long
            after its first batch (bounds the wait when batches come slowly).
        rate: Paced replay at this total rate (``100kHz``, ``5000``, ``2GB/s``;
            see :func:`~trigger.io.pacer.parse_rate`), shared by the sources;
            None emits as fast as credits allow (throughput mode).
        rate_steps: Load steps: ``((t_s, rate), ...)``, each rate in force from
            ``t_s`` seconds after the start (before the first step: ``rate``).
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
        transport: How batches reach filters: ``"object-store"`` (the source reads
            and puts them), ``"file"`` (filters read the rows where the files are:
            every node must see them at the same path; Arrow IPC and Parquet row groups
            of at most one batch, unpaced or paced at an event rate) or ``"auto"``: file on
            a cluster this run started on this machine, the object store otherwise.
    """

    filters: int = 2
    min_filters: int | None = None
    max_filters: int | None = None
    cpus_per_filter: float = 1.0
    gpus_per_filter: float = 0.0
    credits: int = 3
    batch_size: int = 65_536
    sources: int = 1
    sinks: int = 1
    sink_group_batches: int | None = None
    sink_group_delay_s: float = 0.2
    rate: str | None = None
    rate_steps: tuple[tuple[float, str], ...] = field(default_factory=tuple)
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
    transport: str = "auto"

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
        if self.rate_steps and self.rate is None and min(t for t, _ in self.rate_steps) > 0:
            raise ConfigError("load steps start after 0 s: give the initial --rate too")
        if any(t < 0 for t, _ in self.rate_steps):
            raise ConfigError(f"load steps need t_s >= 0, got {self.rate_steps}")
        self.rate_plan(1.0)  # refuse a bad rate before anything starts
        if self.latency_budget_ms <= 0 or self.tick_s <= 0:
            raise ConfigError("latency_budget_ms and tick_s must be > 0")
        if self.transport not in TRANSPORTS:
            raise ConfigError(f"transport must be one of {', '.join(TRANSPORTS)}, got {self.transport!r}")
        if self.placement not in ("driver", "any"):
            raise ConfigError(f"placement must be 'driver' or 'any', got {self.placement!r}")
        if self.sink_group_batches is not None and self.sink_group_batches < 1:
            raise ConfigError(f"sink_group_batches must be >= 1, got {self.sink_group_batches}")
        if not self.sink_group_delay_s > 0:
            raise ConfigError(f"sink_group_delay_s must be > 0, got {self.sink_group_delay_s}")
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
        return self.rate is not None or bool(self.rate_steps)

    def rate_plan(self, share: float) -> list[tuple[float, Rate]]:
        """``(t_s, rate)`` steps of one source that gets ``share`` of the load (empty: unpaced).

        Raises:
            ConfigError: A rate that does not parse, or steps mixing events/s and bytes/s.
        """
        texts = ([(0.0, self.rate)] if self.rate is not None else []) + list(self.rate_steps)
        steps = [(float(t), parse_rate(text)) for t, text in texts]
        if len({r.unit for _, r in steps}) > 1:
            raise ConfigError(f"load steps mix events/s and bytes/s: {[r.text for _, r in steps]}; use one unit")
        return [(t, Rate(r.per_s * share, r.unit, r.text)) for t, r in steps]

    @property
    def effective_backfill_batch_size(self) -> int:
        """Events per backfill batch."""
        return self.backfill_batch_size or max(1, self.batch_size // 4)

    @property
    def effective_sink_group_batches(self) -> int:
        """Batches per sink commit: half the credits of the smallest pool, so that a group never waits for
        batches the credits it holds keep from coming (and filters keep deciding while it commits)."""
        return self.sink_group_batches or max(1, self.pool_bounds[0] * self.credits // 2)
