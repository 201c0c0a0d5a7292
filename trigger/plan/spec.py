"""The inputs of a capacity plan: what the farm must sustain, and what one node can do."""

from __future__ import annotations

from dataclasses import dataclass

from trigger.errors import ConfigError

__all__ = ["NodeProfile", "Requirement"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """What the farm must sustain.

    Attributes:
        input_bytes_per_s: Detector output into the farm.
        event_size_bytes: Bytes per event (raw payload included).
        latency_budget_s: Largest acceptable decision latency.
        accept_fraction: Fraction of events kept (written to storage).
    """

    input_bytes_per_s: float
    event_size_bytes: float
    latency_budget_s: float
    accept_fraction: float

    def __post_init__(self) -> None:
        for name in ("input_bytes_per_s", "event_size_bytes", "latency_budget_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"requirement {name} must be above 0, got {getattr(self, name)!r}")
        if not 0 < self.accept_fraction <= 1:
            raise ConfigError(f"accept fraction must be in (0, 1], got {self.accept_fraction!r}")

    @property
    def input_events_per_s(self) -> float:
        """Events per second into the farm."""
        return self.input_bytes_per_s / self.event_size_bytes

    @property
    def output_bytes_per_s(self) -> float:
        """Kept bytes per second (to storage)."""
        return self.input_bytes_per_s * self.accept_fraction


@dataclass(frozen=True, slots=True)
class NodeProfile:
    """One node's measured capacity.

    Attributes:
        cores: CPU cores per node.
        gpus: GPUs per node.
        nic_bytes_per_s: NIC bandwidth per node.
        core_events_per_s: Events/s one core decides end to end (read, features,
            decisions, write of kept events), measured on small events.
        core_scaling: Per-core efficiency when all cores work (1.0: linear).
        copy_bytes_per_s: Bytes/s one core copies (payload of kept events, ingest).
        ingest_copies: CPU copies of each input byte on receipt (1: a socket read; 0: RDMA).
        gpu_events_per_s: Model inferences/s per GPU, or None if not measured.
        model_fraction: Fraction of input events that reach a model (pass its seeds).
        storage_write_bytes_per_s: Write rate per node to storage, or None (not a limit).
        target_utilization: Busy fraction each resource is sized for.
        credits: In-flight batches per filter (one deciding, the rest queued).
        driver_cpu_s_per_batch: Control-plane CPU per batch in a farm's driver
            (measured by ``bench/scaling.py``), or None if not measured.
        sources: Where each figure came from (printed as assumptions).
    """

    cores: int
    gpus: int
    nic_bytes_per_s: float
    core_events_per_s: float
    core_scaling: float = 1.0
    copy_bytes_per_s: float = 5e9
    ingest_copies: int = 1
    gpu_events_per_s: float | None = None
    model_fraction: float = 0.0
    storage_write_bytes_per_s: float | None = None
    target_utilization: float = 0.7
    credits: int = 2
    driver_cpu_s_per_batch: float | None = None
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.cores < 1 or self.gpus < 0 or self.credits < 1 or self.ingest_copies < 0:
            raise ConfigError(f"node: need cores >= 1, gpus >= 0, credits >= 1, ingest_copies >= 0; got cores="
                              f"{self.cores}, gpus={self.gpus}, credits={self.credits}, "
                              f"ingest_copies={self.ingest_copies}")
        for name in ("nic_bytes_per_s", "core_events_per_s", "copy_bytes_per_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"node: {name} must be above 0, got {getattr(self, name)!r}")
        if not 0 < self.core_scaling <= 1 or not 0 < self.target_utilization <= 1:
            raise ConfigError(f"node: core_scaling ({self.core_scaling}) and target_utilization "
                              f"({self.target_utilization}) must be in (0, 1]")
        if not 0 <= self.model_fraction <= 1:
            raise ConfigError(f"node: model_fraction must be in [0, 1], got {self.model_fraction}")
        if self.model_fraction > 0 and not (self.gpus and self.gpu_events_per_s):
            raise ConfigError(
                f"{self.model_fraction:.0%} of events reach a model, but "
                + ("the nodes have no GPU (--gpus-per-node)" if not self.gpus else
                   "no per-GPU inference rate was measured (run `trigger bench inference` or give --gpu-rate)")
                + "; or set --model-fraction 0 for a menu without models")
        if self.storage_write_bytes_per_s is not None and not self.storage_write_bytes_per_s > 0:
            raise ConfigError(f"node: storage write rate must be above 0, got {self.storage_write_bytes_per_s}")
