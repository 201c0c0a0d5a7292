"""Deploying the farm on Kubernetes: manifests from a config, and apply/status/delete.

:mod:`trigger.k8s.render` builds the manifests (KubeRay RayCluster and RayJob,
Kueue queues, core objects) as dicts; :mod:`trigger.k8s.client` talks to a
cluster with the ``kubernetes`` client. See ``docs/deploy-kubernetes.md``.
"""

from __future__ import annotations

from trigger.k8s.config import PRESETS, DeployConfig, load_config, preset
from trigger.k8s.render import render, to_yaml, write_manifests

__all__ = ["PRESETS", "DeployConfig", "load_config", "preset", "render", "to_yaml", "write_manifests"]
