"""Kueue objects: flavors, the ClusterQueue and its LocalQueue, and the two priorities.

Replays are Kueue workloads: a RayJob waits in the LocalQueue until the
ClusterQueue's quota can hold its whole (fixed-size) cluster, and a replay of
priority ``<name>-online`` preempts ``<name>-backfill`` replays when quota is
short. :func:`admission_problems` repeats the checks Kueue's RayJob webhook
makes, so a manifest it would refuse fails here first.
"""

from __future__ import annotations

from typing import Any

from trigger.k8s.config import DeployConfig, quantity_bytes
from trigger.k8s.pods import labels

__all__ = ["KUEUE_API", "admission_problems", "kueue_objects", "workload_requests"]

KUEUE_API = "kueue.x-k8s.io/v1beta2"
GPU = "nvidia.com/gpu"


def _quota(cpu: str, memory: str, gpus: int | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"name": "cpu", "nominalQuota": cpu}, {"name": "memory", "nominalQuota": memory}]
    if gpus is not None:
        out.append({"name": GPU, "nominalQuota": gpus})
    return out


def kueue_objects(config: DeployConfig) -> list[dict[str, Any]]:
    """ResourceFlavors, ClusterQueue, LocalQueue and WorkloadPriorityClasses."""
    meta = labels(config, "queue")
    gpus = config.quota_gpus > 0
    cpu_flavor, gpu_flavor = f"{config.name}-cpu", f"{config.name}-gpu"
    flavors = [{"apiVersion": KUEUE_API, "kind": "ResourceFlavor",
                "metadata": {"name": cpu_flavor, "labels": meta}, "spec": {}}]
    covered = ["cpu", "memory"]
    # Flavors are tried in order: CPU-only pods land on the CPU flavor, pods
    # asking for GPUs find 0 there and move on to the GPU flavor.
    quotas = [{"name": cpu_flavor, "resources": _quota(config.quota_cpu, config.quota_memory, 0 if gpus else None)}]
    if gpus:
        covered.append(GPU)
        flavors.append({"apiVersion": KUEUE_API, "kind": "ResourceFlavor",
                        "metadata": {"name": gpu_flavor, "labels": meta},
                        "spec": {"nodeLabels": dict(config.gpu_node_labels)}})
        # The GPU flavor holds quota_gpus worth of filter pods (CPU and memory included).
        pods = max(1, config.quota_gpus // max(1, config.gpus_per_worker))
        cpu = f"{pods * quantity_bytes(config.filter_cpu, what='filter_cpu'):g}"
        memory = f"{pods * int(quantity_bytes(config.filter_memory, what='filter_memory')) // 2**30}Gi"
        quotas.append({"name": gpu_flavor, "resources": _quota(cpu, memory, config.quota_gpus)})
    cluster_queue = {
        "apiVersion": KUEUE_API,
        "kind": "ClusterQueue",
        "metadata": {"name": config.cluster_queue, "labels": meta},
        "spec": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": config.namespace}},
            "queueingStrategy": "BestEffortFIFO",
            "preemption": {"withinClusterQueue": "LowerPriority"},
            "resourceGroups": [{"coveredResources": covered, "flavors": quotas}],
        },
    }
    local_queue = {
        "apiVersion": KUEUE_API,
        "kind": "LocalQueue",
        "metadata": {"name": config.queue, "namespace": config.namespace, "labels": meta},
        "spec": {"clusterQueue": config.cluster_queue},
    }
    priorities = [
        {"apiVersion": KUEUE_API, "kind": "WorkloadPriorityClass",
         "metadata": {"name": f"{config.name}-online", "labels": meta}, "value": 1000,
         "description": "Turnaround replays of the trigger farm: admitted first, may preempt backfill."},
        {"apiVersion": KUEUE_API, "kind": "WorkloadPriorityClass",
         "metadata": {"name": f"{config.name}-backfill", "labels": meta}, "value": 100,
         "description": "Backfill replays of recorded data: run on idle quota, preempted first."},
    ]
    return [*flavors, cluster_queue, local_queue, *priorities]


def _pod_requests(pod_spec: dict[str, Any]) -> dict[str, float]:
    total: dict[str, float] = {}
    for container in pod_spec.get("containers", []):
        for name, amount in container.get("resources", {}).get("requests", {}).items():
            total[name] = total.get(name, 0.0) + quantity_bytes(str(amount), what=name)
    return total


def workload_requests(ray_job: dict[str, Any]) -> dict[str, float]:
    """Total requests of a RayJob as Kueue counts them: head, every worker pod, the submitter."""
    spec = ray_job["spec"]
    cluster = spec["rayClusterSpec"]
    pods = [(cluster["headGroupSpec"]["template"]["spec"], 1)]
    pods += [(g["template"]["spec"], g.get("replicas", 0)) for g in cluster.get("workerGroupSpecs", [])]
    if "submitterPodTemplate" in spec:
        pods.append((spec["submitterPodTemplate"]["spec"], 1))
    total: dict[str, float] = {}
    for pod, count in pods:
        for name, amount in _pod_requests(pod).items():
            total[name] = total.get(name, 0.0) + amount * count
    return total


def admission_problems(ray_job: dict[str, Any], cluster_queue: dict[str, Any]) -> list[str]:
    """Why Kueue would refuse or never admit ``ray_job`` in ``cluster_queue`` (empty: fine).

    Checks what Kueue's RayJob webhook checks (queue label, no autoscaling, no
    existing cluster, at most 7 worker groups, none named ``head``, cluster
    deleted after the job) and that the ClusterQueue's quota can hold the job.
    """
    problems = []
    spec = ray_job["spec"]
    cluster = spec.get("rayClusterSpec", {})
    if not ray_job["metadata"].get("labels", {}).get("kueue.x-k8s.io/queue-name"):
        problems.append("no kueue.x-k8s.io/queue-name label: Kueue ignores the job")
    if cluster.get("enableInTreeAutoscaling"):
        problems.append("rayClusterSpec.enableInTreeAutoscaling is true: Kueue refuses autoscaling jobs")
    if spec.get("clusterSelector"):
        problems.append("clusterSelector set: Kueue refuses jobs that use an existing cluster")
    groups = cluster.get("workerGroupSpecs", [])
    if len(groups) > 7:
        problems.append(f"{len(groups)} worker groups: Kueue allows at most 7")
    if any(g["groupName"] == "head" for g in groups):
        problems.append("a worker group is named 'head' (reserved by Kueue)")
    if not spec.get("shutdownAfterJobFinishes"):
        problems.append("shutdownAfterJobFinishes is not true: the admitted quota would never be released")
    quota: dict[str, float] = {}
    for group in cluster_queue["spec"]["resourceGroups"]:
        for flavor in group["flavors"]:
            for res in flavor["resources"]:
                quota[res["name"]] = quota.get(res["name"], 0.0) + quantity_bytes(str(res["nominalQuota"]))
    for name, amount in workload_requests(ray_job).items():
        if amount > quota.get(name, 0.0):
            problems.append(f"the job requests {amount:g} {name} but ClusterQueue {cluster_queue['metadata']['name']} "
                            f"has a quota of {quota.get(name, 0.0):g}: it would never be admitted")
    return problems
