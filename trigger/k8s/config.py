"""What ``trigger k8s render`` builds manifests from: one flat, frozen config.

The defaults are the kustomize base in ``k8s/base`` and ``k8s/replay``; the
presets ``cpu``, ``gpu`` and ``gpu-ha`` are the overlays of the same names (a
test builds each overlay with kustomize and compares it with the render of its
preset, so the two cannot drift apart).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trigger.errors import ConfigError, did_you_mean

__all__ = ["PRESETS", "RAY_VERSION", "DeployConfig", "load_config", "preset", "quantity_bytes"]

#: The Ray version of the image (``Dockerfile`` ARG RAY_VERSION) and of ``spec.rayVersion``.
RAY_VERSION = "2.60.0"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")
_FACTORS = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity_bytes(text: str, *, what: str = "quantity") -> float:
    """Parse a Kubernetes quantity (``"8"``, ``"500m"``, ``"16Gi"``) into a number.

    Args:
        text: The quantity.
        what: The option it came from, for the error message.

    Returns:
        The value in base units (bytes for memory, cores for CPU).

    Raises:
        ConfigError: ``text`` is not a quantity.
    """
    match = _QUANTITY.match(str(text))
    if not match:
        raise ConfigError(f"{what}: {text!r} is not a Kubernetes quantity (expected e.g. '4', '500m', '16Gi')")
    return float(match.group(1)) * _FACTORS[match.group(2)]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeployConfig:
    """Everything the rendered manifests depend on.

    Attributes:
        name: Prefix of every object name (``<name>-online``, ``<name>-replay`` ...).
        namespace: Namespace of the namespaced objects.
        image: Container image (see ``Dockerfile``; the ``-gpu`` build for GPUs).
        ray_version: ``spec.rayVersion``; must equal the image's Ray.
        head_cpu, head_memory: Head pod requests = limits (GCS, dashboard and the
            job driver; Ray schedules no tasks there: ``num-cpus: "0"``).
        io_workers, io_min_workers, io_max_workers: CPU worker group (sources, sinks).
        io_cpu, io_memory: Requests = limits of one CPU worker pod.
        filter_workers, filter_min_workers, filter_max_workers: Filter worker group
            of the online cluster (the autoscaler moves it between min and max).
        filter_cpu, filter_memory: Requests = limits of one filter worker pod.
        gpus_per_worker: ``nvidia.com/gpu`` of one filter worker (0: CPU filters).
        gpu_node_labels: Node labels of the Kueue GPU ResourceFlavor.
        object_store_fraction: Share of a pod's memory given to Ray's object
            store; ``/dev/shm`` is sized from it.
        tmp_size: Size limit of the ``/tmp`` emptyDir (Ray's session dir and spilling).
        idle_timeout_s: Seconds an idle worker pod lives before the autoscaler removes it.
        data_claim, data_size, storage_class, data_mount: The ReadWriteMany volume
            holding recorded input and output (storage_class None: the default class).
        cluster_queue, queue: Kueue ClusterQueue and LocalQueue names.
        quota_cpu, quota_memory, quota_gpus: ClusterQueue nominal quota.
        priority: Priority of the replay (Kueue WorkloadPriorityClass and pod
            PriorityClass names: ``<name>-online`` or ``<name>-backfill``).
        replay_name: Name of the replay RayJob (one per submission).
        replay_inputs: Recorded files or directories the replay reads.
        replay_out: Output directory (default ``<data_mount>/out/<replay_name>``).
        replay_menu: Trigger menu YAML path in the pod (None: the shipped default).
        replay_io_workers, replay_filter_workers: Fixed worker counts of the replay cluster.
        replay_filters, replay_cpus_per_filter, replay_gpus_per_filter: Filter actors.
        replay_batch_size, replay_credits: Farm options of the replay.
        kuberay_namespace: Namespace of the KubeRay operator (it polls the dashboard).
        gcs_fault_tolerance: Keep the online cluster's GCS in Redis (survives a head restart).
        redis_secret, redis_image: Secret with key ``password`` and the Redis image.
    """

    name: str = "trigger"
    namespace: str = "trigger"
    image: str = "trigger:0.1.0"
    ray_version: str = RAY_VERSION
    head_cpu: str = "2"
    head_memory: str = "8Gi"
    io_workers: int = 1
    io_min_workers: int = 1
    io_max_workers: int = 4
    io_cpu: str = "4"
    io_memory: str = "16Gi"
    filter_workers: int = 0
    filter_min_workers: int = 0
    filter_max_workers: int = 8
    filter_cpu: str = "8"
    filter_memory: str = "32Gi"
    gpus_per_worker: int = 0
    gpu_node_labels: Mapping[str, str] = field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    object_store_fraction: float = 0.25
    tmp_size: str = "20Gi"
    idle_timeout_s: int = 60
    data_claim: str = "trigger-data"
    data_size: str = "100Gi"
    storage_class: str | None = None
    data_mount: str = "/data"
    cluster_queue: str = "trigger"
    queue: str = "trigger-replay"
    quota_cpu: str = "64"
    quota_memory: str = "256Gi"
    quota_gpus: int = 0
    priority: str = "trigger-backfill"
    replay_name: str = "trigger-replay"
    replay_inputs: tuple[str, ...] = ("/data/recorded",)
    replay_out: str | None = None
    replay_menu: str | None = None
    replay_io_workers: int = 1
    replay_filter_workers: int = 2
    replay_filters: int = 4
    replay_cpus_per_filter: float = 2.0
    replay_gpus_per_filter: float = 0.0
    replay_batch_size: int = 65_536
    replay_credits: int = 3
    kuberay_namespace: str = "kuberay-system"
    gcs_fault_tolerance: bool = False
    redis_secret: str = "trigger-redis"
    redis_image: str = "redis:7.4"

    def __post_init__(self) -> None:
        for key in ("name", "namespace", "data_claim", "cluster_queue", "queue", "priority", "replay_name",
                    "kuberay_namespace", "redis_secret"):
            value = getattr(self, key)
            if not _DNS_LABEL.match(value) or len(value) > 40:
                raise ConfigError(f"{key}: {value!r} is not a valid object name (lowercase letters, digits "
                                  "and '-', starting and ending with a letter or digit, at most 40 characters)")
        for key in ("head_cpu", "io_cpu", "filter_cpu", "head_memory", "io_memory", "filter_memory",
                    "tmp_size", "data_size", "quota_cpu", "quota_memory"):
            if quantity_bytes(getattr(self, key), what=key) <= 0:
                raise ConfigError(f"{key} must be > 0, got {getattr(self, key)!r}")
        for group in ("io", "filter"):
            lo, now, hi = (getattr(self, f"{group}_{k}") for k in ("min_workers", "workers", "max_workers"))
            if not 0 <= lo <= now <= hi or hi < 1:
                raise ConfigError(f"need 0 <= {group}_min_workers ({lo}) <= {group}_workers ({now}) <= "
                                  f"{group}_max_workers ({hi}) and {group}_max_workers >= 1")
        if not 0 < self.object_store_fraction <= 0.8:
            raise ConfigError(f"object_store_fraction must be in (0, 0.8] (the rest is for the processes), "
                              f"got {self.object_store_fraction}")
        if self.gpus_per_worker < 0 or self.quota_gpus < 0:
            raise ConfigError("gpus_per_worker and quota_gpus must be >= 0")
        if self.replay_filter_workers < 1 or self.replay_filters < 1 or self.replay_io_workers < 0:
            raise ConfigError("replay_filter_workers and replay_filters must be >= 1, replay_io_workers >= 0")
        if not self.replay_inputs:
            raise ConfigError("replay_inputs is empty: name the recorded files or directories to replay")
        if self.priority not in (f"{self.name}-online", f"{self.name}-backfill"):
            raise ConfigError(f"priority must be {self.name}-online or {self.name}-backfill, got {self.priority!r}")
        if self.idle_timeout_s < 1:
            raise ConfigError(f"idle_timeout_s must be >= 1, got {self.idle_timeout_s}")

    @property
    def online_cluster(self) -> str:
        """Name of the autoscaling RayCluster."""
        return f"{self.name}-online"

    @property
    def replay_out_dir(self) -> str:
        """Output directory of the replay RayJob."""
        return self.replay_out or f"{self.data_mount}/out/{self.replay_name}"

    def replace(self, **changes: Any) -> DeployConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


#: The overlays in ``k8s/overlays``: changes from the base (``DeployConfig()``).
PRESETS: dict[str, dict[str, Any]] = {
    "base": {},
    # A small cluster without GPUs (kind, minikube, a laptop): CPU filters, small pods.
    "cpu": dict(head_cpu="1", head_memory="4Gi", io_max_workers=2, io_cpu="1", io_memory="4Gi",
                filter_max_workers=4, filter_cpu="2", filter_memory="4Gi", tmp_size="4Gi", data_size="10Gi",
                quota_cpu="12", quota_memory="32Gi", replay_filter_workers=1, replay_filters=2,
                replay_cpus_per_filter=1.0),
    # GPU filters: one GPU per filter pod, two filter actors share it.
    "gpu": dict(image="trigger:0.1.0-gpu", gpus_per_worker=1, quota_gpus=8, replay_filters=4,
                replay_cpus_per_filter=1.0, replay_gpus_per_filter=0.5),
}
PRESETS["gpu-ha"] = {**PRESETS["gpu"], "gcs_fault_tolerance": True}


def preset(name: str) -> DeployConfig:
    """The config of a kustomize overlay (``base``, ``cpu``, ``gpu``, ``gpu-ha``).

    Raises:
        ConfigError: Unknown preset name.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}{did_you_mean(name, PRESETS)}")
    return DeployConfig(**PRESETS[name])


def load_config(path: Path | None, *, base: str = "base", overrides: Mapping[str, Any] | None = None) -> DeployConfig:
    """Read a YAML config (keys are :class:`DeployConfig` fields) over a preset.

    Args:
        path: The YAML file, or None for the preset alone.
        base: Preset the file's keys are applied to.
        overrides: Last changes (command-line options), None values ignored.

    Returns:
        The validated config.

    Raises:
        ConfigError: The file is missing, not a mapping, or has unknown keys or bad values.
    """
    preset(base)  # validates the name
    changes: dict[str, Any] = dict(PRESETS[base])
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path}: expected a mapping of option: value, found {type(data).__name__}")
        changes.update(data)
    changes.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in dataclasses.fields(DeployConfig)}
    for key in changes:
        if key not in known:
            raise ConfigError(f"{path or 'config'}: unknown option {key!r}{did_you_mean(key, known)}")
    if isinstance(changes.get("replay_inputs"), (list, str)):
        inputs = changes["replay_inputs"]
        changes["replay_inputs"] = (inputs,) if isinstance(inputs, str) else tuple(inputs)
    for key, value in changes.items():
        _check_type(key, value, where=str(path or "config"))
    try:
        return DeployConfig(**changes)
    except TypeError as err:
        raise ConfigError(f"{path or 'config'}: {err}") from None


def _check_type(key: str, value: Any, *, where: str) -> None:
    """Reject a value whose type differs from the field default's (YAML ``"2"`` vs ``2``)."""
    default = DeployConfig.__dataclass_fields__[key].default
    if default is dataclasses.MISSING:  # a default_factory field: a mapping
        expected: tuple[type, ...] = (dict,)
    elif default is None:
        expected = (str, type(None))
    elif isinstance(default, bool):
        expected = (bool,)
    elif isinstance(default, float):
        expected = (int, float)
    elif isinstance(default, tuple):
        expected = (tuple,)
    else:
        expected = (type(default),)
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        names = " or ".join(t.__name__ for t in expected)
        raise ConfigError(f"{where}: option {key!r} must be {names}, got {value!r} ({type(value).__name__})")
