"""The online RayCluster (autoscaling) and the replay RayJob (fixed size, admitted by Kueue).

Why two shapes: Kueue admits a workload for a fixed amount of resources and
refuses a RayJob (or RayCluster) that enables in-tree autoscaling ("a kueue
managed job should not use autoscaling"): the quota it reserved would not
cover the pods the autoscaler adds. So the replay RayJob brings a fixed-size
cluster that Kueue admits and preempts as a whole, while the long-running
online farm is a RayCluster outside Kueue whose filter group autoscales; its
pods outrank replay pods through their PriorityClass.
"""

from __future__ import annotations

import shlex
from typing import Any

from trigger.errors import ConfigError
from trigger.k8s.config import DeployConfig, quantity_bytes
from trigger.k8s.pods import (
    container_security,
    labels,
    object_store_bytes,
    pod_security,
    ray_container,
    ray_pod_spec,
    resources,
)

__all__ = ["HEAD_PORTS", "cluster_spec", "ray_cluster", "ray_job", "replay_command"]

#: Head ports: all stay inside the namespace (NetworkPolicy); 8265 also for the operator.
HEAD_PORTS = {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "metrics": 8080}


def _group(config: DeployConfig, *, name: str, cpu: str, memory: str, gpus: int, replicas: int, min_replicas: int,
           max_replicas: int, priority_class: str, instance: str, online: bool) -> dict[str, Any]:
    container = ray_container(config, name="ray-worker", cpu=cpu, memory=memory, gpus=gpus)
    return {
        "groupName": name,
        "replicas": replicas,
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "rayStartParams": {"object-store-memory": str(object_store_bytes(config, memory))},
        "template": {
            "metadata": {"labels": labels(config, "ray", instance=instance)},
            "spec": ray_pod_spec(config, container, memory=memory, priority_class=priority_class, gpus=gpus,
                                 restart_never=online),
        },
    }


def cluster_spec(config: DeployConfig, *, online: bool) -> dict[str, Any]:
    """A RayCluster spec: the online farm (``online``) or a replay's fixed cluster.

    Args:
        config: The deployment config.
        online: Autoscaling farm (autoscaler v2, filter group between min and
            max, GCS fault tolerance if configured); otherwise every group has a
            fixed size and the priority of the replay.

    Returns:
        The ``spec`` of a RayCluster (or ``rayClusterSpec`` of a RayJob).
    """
    instance = config.online_cluster if online else config.replay_name
    priority = f"{config.name}-online" if online else config.priority
    head_env = [{"name": "RAY_enable_autoscaler_v2", "value": "1"}] if online else None
    head_container = ray_container(config, name="ray-head", cpu=config.head_cpu, memory=config.head_memory,
                                   env=head_env, ports=[{"name": k, "containerPort": v, "protocol": "TCP"}
                                                        for k, v in HEAD_PORTS.items()])
    head = {
        "serviceType": "ClusterIP",  # never a LoadBalancer: use kubectl port-forward to reach it
        # Ray schedules no task or actor on the head: it runs GCS, the dashboard and job drivers.
        "rayStartParams": {"num-cpus": "0",
                           "object-store-memory": str(object_store_bytes(config, config.head_memory))},
        "template": {
            "metadata": {"labels": labels(config, "ray", instance=instance)},
            "spec": ray_pod_spec(config, head_container, memory=config.head_memory, priority_class=priority,
                                 restart_never=online, service_account_token=online),
        },
    }
    io_counts = ((config.io_workers, config.io_min_workers, config.io_max_workers) if online
                 else (config.replay_io_workers,) * 3)
    filter_counts = ((config.filter_workers, config.filter_min_workers, config.filter_max_workers) if online
                     else (config.replay_filter_workers,) * 3)
    groups = []
    if io_counts[2] > 0:
        groups.append(_group(config, name="io", cpu=config.io_cpu, memory=config.io_memory, gpus=0,
                             replicas=io_counts[0], min_replicas=io_counts[1], max_replicas=io_counts[2],
                             priority_class=priority, instance=instance, online=online))
    groups.append(_group(config, name="filters", cpu=config.filter_cpu, memory=config.filter_memory,
                         gpus=config.gpus_per_worker, replicas=filter_counts[0], min_replicas=filter_counts[1],
                         max_replicas=filter_counts[2], priority_class=priority, instance=instance, online=online))
    spec: dict[str, Any] = {
        "rayVersion": config.ray_version,
        # Ray runs any code sent to its ports: KubeRay generates a token Secret and injects it.
        "authOptions": {"mode": "token"},
        "enableInTreeAutoscaling": online,
        "headGroupSpec": head,
        "workerGroupSpecs": groups,
    }
    if online:
        spec["autoscalerOptions"] = {
            "version": "v2",
            "upscalingMode": "Default",
            "idleTimeoutSeconds": config.idle_timeout_s,
            "imagePullPolicy": "IfNotPresent",
            "resources": resources("500m", "512Mi"),
            "securityContext": container_security(),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
        if config.gcs_fault_tolerance:
            spec["gcsFaultToleranceOptions"] = {
                "redisAddress": f"{config.name}-redis:6379",
                "redisPassword": {"valueFrom": {"secretKeyRef": {"name": config.redis_secret, "key": "password"}}},
            }
    return spec


def ray_cluster(config: DeployConfig) -> dict[str, Any]:
    """The online farm's RayCluster (not managed by Kueue: it autoscales)."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": config.online_cluster, "namespace": config.namespace, "labels": labels(config, "farm")},
        "spec": cluster_spec(config, online=True),
    }


def replay_command(config: DeployConfig) -> list[str]:
    """The replay's ``trigger farm replay`` command line (the RayJob entrypoint).

    Raises:
        ConfigError: The filter actors would not fit the replay's fixed cluster
            (the job would wait forever for resources no pod provides).
    """
    need_cpu = config.replay_filters * config.replay_cpus_per_filter
    have_cpu = config.replay_filter_workers * quantity_bytes(config.filter_cpu, what="filter_cpu")
    need_gpu = config.replay_filters * config.replay_gpus_per_filter
    have_gpu = config.replay_filter_workers * config.gpus_per_worker
    if need_cpu > have_cpu or need_gpu > have_gpu:
        raise ConfigError(
            f"replay_filters={config.replay_filters} filter actors need {need_cpu:g} CPUs and {need_gpu:g} GPUs, "
            f"but replay_filter_workers={config.replay_filter_workers} pods have {have_cpu:g} CPUs and "
            f"{have_gpu:g} GPUs: lower replay_filters or replay_*_per_filter, or add replay_filter_workers"
        )
    n = str(config.replay_filters)
    command = ["trigger", "farm", "replay", *config.replay_inputs, "--out", config.replay_out_dir,
               "--address", "auto", "--filters", n, "--min-filters", n, "--max-filters", n,
               "--cpus-per-filter", f"{config.replay_cpus_per_filter:g}",
               "--gpus-per-filter", f"{config.replay_gpus_per_filter:g}",
               "--credits", str(config.replay_credits), "--batch-size", str(config.replay_batch_size),
               # Every pod mounts the data volume at the same path: filters read their batches there.
               "--transport", "file", "--no-progress"]
    if config.replay_menu:
        command += ["--menu", config.replay_menu]
    return command


def ray_job(config: DeployConfig) -> dict[str, Any]:
    """The replay RayJob: a fixed-size cluster admitted by Kueue, deleted when the job ends."""
    submitter = {
        "name": "ray-job-submitter",  # KubeRay fills in the `ray job submit` command
        "image": config.image,
        "imagePullPolicy": "IfNotPresent",
        "resources": resources("500m", "1Gi"),
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {
            "name": config.replay_name,
            "namespace": config.namespace,
            "labels": {
                **labels(config, "replay"),
                "kueue.x-k8s.io/queue-name": config.queue,
                "kueue.x-k8s.io/priority-class": config.priority,
            },
        },
        "spec": {
            "entrypoint": shlex.join(replay_command(config)),
            "submissionMode": "K8sJobMode",
            "backoffLimit": 0,
            # Kueue requires the cluster to go when the job ends (its quota is released);
            # results stay on the data volume.
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": 600,
            "rayClusterSpec": cluster_spec(config, online=False),
            "submitterPodTemplate": {
                "metadata": {"labels": labels(config, "submitter", instance=config.replay_name)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "priorityClassName": config.priority,
                    "securityContext": pod_security(),
                    "containers": [submitter],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        },
    }
