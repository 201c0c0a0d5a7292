"""Pod pieces shared by every Ray pod: security context, volumes, resources, labels.

Ray writes only under ``/tmp`` (``/tmp/ray``: session dir, logs, spilled
objects) and ``/dev/shm`` (the object store), so the root filesystem is
read-only and both are emptyDirs. The image runs as the numeric user
``1000:100`` (the ``ray`` user of the rayproject images): a numeric user lets
the kubelet verify ``runAsNonRoot``.
"""

from __future__ import annotations

import math
from typing import Any

from trigger.k8s.config import DeployConfig, quantity_bytes

__all__ = [
    "RAY_GID",
    "RAY_UID",
    "container_security",
    "labels",
    "object_store_bytes",
    "pod_security",
    "ray_container",
    "ray_pod_spec",
    "resources",
    "shm_size",
]

RAY_UID = 1000
RAY_GID = 100
_MIB = 2**20


def labels(config: DeployConfig, component: str, *, instance: str | None = None) -> dict[str, str]:
    """The recommended ``app.kubernetes.io`` labels of an object."""
    out = {"app.kubernetes.io/name": config.name, "app.kubernetes.io/component": component}
    if instance:
        out["app.kubernetes.io/instance"] = instance
    return out


def container_security(*, uid: int = RAY_UID, gid: int = RAY_GID) -> dict[str, Any]:
    """A container security context meeting the ``restricted`` Pod Security Standard."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security(*, uid: int = RAY_UID, gid: int = RAY_GID) -> dict[str, Any]:
    """The pod security context (``fsGroup`` makes the data volume writable)."""
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def resources(cpu: str, memory: str, *, gpus: int = 0) -> dict[str, Any]:
    """Requests equal to limits: Ray sizes itself from the limits, and a pod
    that can burst past its request gets OOM-killed or throttled unpredictably."""
    amounts: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpus:
        amounts["nvidia.com/gpu"] = gpus
    return {"requests": dict(amounts), "limits": dict(amounts)}


def object_store_bytes(config: DeployConfig, memory: str) -> int:
    """Ray object store size of a pod with ``memory``, whole MiB."""
    total = quantity_bytes(memory, what="memory")
    return int(total * config.object_store_fraction) // _MIB * _MIB


def shm_size(store_bytes: int) -> str:
    """``/dev/shm`` size limit: the object store plus 10 % (plasma's own overhead)."""
    return f"{math.ceil(store_bytes * 1.1 / _MIB)}Mi"


def ray_container(config: DeployConfig, *, name: str, cpu: str, memory: str, gpus: int = 0,
                  env: list[dict[str, Any]] | None = None, ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The Ray container of a head or worker pod (KubeRay adds ``ray start``)."""
    container: dict[str, Any] = {
        "name": name,
        "image": config.image,
        "imagePullPolicy": "IfNotPresent",
        "resources": resources(cpu, memory, gpus=gpus),
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "data", "mountPath": config.data_mount},
        ],
    }
    if env:
        container["env"] = env
    if ports:
        container["ports"] = ports
    return container


def ray_pod_spec(config: DeployConfig, container: dict[str, Any], *, memory: str, priority_class: str,
                 gpus: int = 0, restart_never: bool = False, service_account_token: bool = False) -> dict[str, Any]:
    """A Ray pod spec around ``container``.

    Args:
        config: The deployment config.
        container: From :func:`ray_container`.
        memory: The pod's memory (sizes ``/dev/shm``).
        priority_class: Kubernetes PriorityClass of the pod.
        gpus: GPUs of the pod (adds the ``nvidia.com/gpu`` toleration).
        restart_never: ``restartPolicy: Never``: autoscaler v2 tracks Ray nodes by
            pod and needs a failed Ray container replaced, not restarted in place.
        service_account_token: Mount the token (only the head needs it: its
            autoscaler sidecar patches the RayCluster).

    Returns:
        The pod spec.
    """
    spec: dict[str, Any] = {
        "containers": [container],
        "volumes": [
            {"name": "dshm", "emptyDir": {"medium": "Memory",
                                          "sizeLimit": shm_size(object_store_bytes(config, memory))}},
            {"name": "tmp", "emptyDir": {"sizeLimit": config.tmp_size}},
            {"name": "data", "persistentVolumeClaim": {"claimName": config.data_claim}},
        ],
        "securityContext": pod_security(),
        "priorityClassName": priority_class,
    }
    if not service_account_token:
        spec["automountServiceAccountToken"] = False
    if restart_never:
        spec["restartPolicy"] = "Never"
    if gpus:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    return spec
