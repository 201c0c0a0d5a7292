"""Core Kubernetes objects of the farm: namespace, pod priorities, data volume,
NetworkPolicies and (with GCS fault tolerance) the Redis that keeps the GCS."""

from __future__ import annotations

from typing import Any

from trigger.k8s.config import DeployConfig
from trigger.k8s.pods import container_security, labels, pod_security, resources
from trigger.k8s.raycluster import HEAD_PORTS

__all__ = ["core_objects", "redis_objects"]

_REDIS_UID = 999  # the redis user of the official image


def core_objects(config: DeployConfig) -> list[dict[str, Any]]:
    """Namespace, PriorityClasses, the data PersistentVolumeClaim and the Ray NetworkPolicy."""
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": config.namespace,
            "labels": {
                **labels(config, "namespace"),
                # Pods here are built to meet `restricted`; enforced at `baseline` so that a
                # KubeRay version injecting a less strict container (an init container, a
                # sidecar) warns instead of leaving the cluster without pods.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
    }
    priorities = [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
         "metadata": {"name": f"{config.name}-online", "labels": labels(config, "priority")},
         "value": 100000, "preemptionPolicy": "PreemptLowerPriority",
         "description": "Online trigger farm pods: the scheduler evicts backfill pods to place them."},
        # Below the default 0: backfill only ever uses capacity nobody else wants.
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
         "metadata": {"name": f"{config.name}-backfill", "labels": labels(config, "priority")},
         "value": -100, "preemptionPolicy": "Never",
         "description": "Backfill replay pods: never preempt, evicted first."},
    ]
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": config.data_claim, "namespace": config.namespace, "labels": labels(config, "data")},
        "spec": {
            # Every Ray pod reads recorded files and sinks write results: one shared volume.
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": config.data_size}},
        },
    }
    if config.storage_class:
        claim["spec"]["storageClassName"] = config.storage_class
    network_policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{config.name}-ray", "namespace": config.namespace, "labels": labels(config, "network")},
        "spec": {
            "podSelector": {"matchLabels": labels(config, "ray")},
            "policyTypes": ["Ingress"],
            "ingress": [
                # Ray pods talk to each other on many ports (GCS, raylets, object
                # managers, workers): any pod of this namespace, no pod outside it.
                {"from": [{"podSelector": {}}]},
                # The KubeRay operator polls the dashboard's job API for RayJob status.
                {"from": [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": config.kuberay_namespace}}}],
                 "ports": [{"protocol": "TCP", "port": HEAD_PORTS["dashboard"]}]},
            ],
        },
    }
    return [namespace, *priorities, claim, network_policy]


def redis_objects(config: DeployConfig) -> list[dict[str, Any]]:
    """Redis for GCS fault tolerance: Deployment, Service, volume and a NetworkPolicy.

    The password comes from the Secret ``config.redis_secret`` (key ``password``),
    created by hand so that no password is ever in git.
    """
    name = f"{config.name}-redis"
    meta = labels(config, "gcs-store")
    password = {"secretKeyRef": {"name": config.redis_secret, "key": "password"}}
    redis = {
        "name": "redis",
        "image": config.redis_image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--requirepass", "$(REDIS_PASSWORD)", "--appendonly", "yes", "--dir", "/data"],
        "env": [{"name": "REDIS_PASSWORD", "valueFrom": password}],
        "ports": [{"name": "redis", "containerPort": 6379, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 5},
        "resources": resources("500m", "1Gi"),
        "securityContext": container_security(uid=_REDIS_UID, gid=_REDIS_UID),
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    return [
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": name, "namespace": config.namespace, "labels": meta},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": config.namespace, "labels": meta},
         "spec": {
             "replicas": 1,
             "strategy": {"type": "Recreate"},  # one pod at a time on the ReadWriteOnce volume
             "selector": {"matchLabels": meta},
             "template": {"metadata": {"labels": meta}, "spec": {
                 "automountServiceAccountToken": False,
                 "priorityClassName": f"{config.name}-online",
                 "securityContext": pod_security(uid=_REDIS_UID, gid=_REDIS_UID),
                 "containers": [redis],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": name}}],
             }},
         }},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": config.namespace, "labels": meta},
         "spec": {"type": "ClusterIP", "selector": meta,
                  "ports": [{"name": "redis", "port": 6379, "targetPort": 6379, "protocol": "TCP"}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": name, "namespace": config.namespace, "labels": meta},
         "spec": {
             "podSelector": {"matchLabels": meta},
             "policyTypes": ["Ingress"],
             # Only the online cluster's head (its GCS) talks to Redis.
             "ingress": [{"from": [{"podSelector": {"matchLabels": {
                 "ray.io/cluster": config.online_cluster, "ray.io/node-type": "head"}}}],
                 "ports": [{"protocol": "TCP", "port": 6379}]}],
         }},
    ]
