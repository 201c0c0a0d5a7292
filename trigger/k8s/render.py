"""Build the farm's Kubernetes manifests as plain dicts from a :class:`DeployConfig`.

Two parts: ``farm`` (namespace, priorities, Kueue queues, data volume,
NetworkPolicy, the autoscaling online RayCluster) is applied once; ``replay``
(one RayJob) is submitted per replay. The kustomize tree in ``k8s/`` holds the
same objects for the presets (``k8s/base`` + ``k8s/replay`` and the overlays).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from trigger.errors import ConfigError
from trigger.k8s.config import DeployConfig
from trigger.k8s.core import core_objects, redis_objects
from trigger.k8s.kueue import admission_problems, kueue_objects
from trigger.k8s.raycluster import ray_cluster, ray_job

__all__ = ["APPLY_ORDER", "PARTS", "render", "to_yaml", "write_manifests"]

PARTS = ("farm", "replay", "all")

#: Kinds in the order they must be created (what an object refers to comes first).
APPLY_ORDER = ("Namespace", "PriorityClass", "ResourceFlavor", "WorkloadPriorityClass", "ClusterQueue",
               "LocalQueue", "PersistentVolumeClaim", "NetworkPolicy", "Service", "Deployment", "RayCluster",
               "RayJob")


def _order(obj: dict[str, Any]) -> tuple[int, str]:
    kind = obj["kind"]
    return (APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER), obj["metadata"]["name"])


def render(config: DeployConfig, *, part: str = "all") -> list[dict[str, Any]]:
    """The manifests of ``part`` in apply order.

    Args:
        config: The deployment config.
        part: ``farm``, ``replay`` or ``all``.

    Returns:
        Kubernetes objects as dicts (no None values anywhere).

    Raises:
        ConfigError: Unknown part, or a replay that does not fit its cluster or
            that Kueue would refuse or never admit.
    """
    if part not in PARTS:
        raise ConfigError(f"unknown part {part!r}; choose one of {', '.join(PARTS)}")
    queues = kueue_objects(config)
    objects: list[dict[str, Any]] = []
    if part in ("farm", "all"):
        objects += [*core_objects(config), *queues, ray_cluster(config)]
        if config.gcs_fault_tolerance:
            objects += redis_objects(config)
    if part in ("replay", "all"):
        job = ray_job(config)
        cluster_queue = next(q for q in queues if q["kind"] == "ClusterQueue")
        problems = admission_problems(job, cluster_queue)
        if problems:
            raise ConfigError(f"replay RayJob {config.replay_name}: " + "; ".join(problems))
        objects.append(job)
    return sorted(objects, key=_order)


def to_yaml(objects: Iterable[dict[str, Any]]) -> str:
    """A multi-document YAML stream of ``objects``."""
    return yaml.safe_dump_all(list(objects), sort_keys=False, default_flow_style=False, width=120)


def write_manifests(objects: Iterable[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Write one file per object, ``NN-kind-name.yaml`` in apply order.

    Returns:
        The paths written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, obj in enumerate(objects):
        path = out_dir / f"{i:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(obj, sort_keys=False, width=120))
        paths.append(path)
    return paths
