"""Apply, inspect and delete the farm's manifests with the ``kubernetes`` client.

Objects go in by server-side apply (field manager ``trigger``) through the
dynamic client, which serves built-in and custom kinds alike. Before changing
anything, every kind is looked up on the API server: a cluster without the
KubeRay or Kueue CRDs gets one error that says what to install, not a
half-applied farm.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trigger.errors import TriggerError

__all__ = ["INSTALL_HINTS", "ClusterClient", "ClusterError"]

FIELD_MANAGER = "trigger"

#: How to install the operator that serves an API group.
INSTALL_HINTS = {
    "ray.io": "install KubeRay: helm repo add kuberay https://ray-project.github.io/kuberay-helm/ && "
              "helm install kuberay-operator kuberay/kuberay-operator --namespace kuberay-system --create-namespace",
    "kueue.x-k8s.io": "install Kueue (a release serving kueue.x-k8s.io/v1beta2): helm install kueue "
                      "oci://registry.k8s.io/kueue/charts/kueue --namespace kueue-system --create-namespace",
}

#: Kept by ``delete`` unless ``purge``: they hold data (recorded files, results).
_KEPT_KINDS = ("Namespace", "PersistentVolumeClaim")


class ClusterError(TriggerError):
    """No cluster is reachable, an API group is missing, or the API server refused an object."""


def _describe(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


class ClusterClient:
    """A connection to one Kubernetes cluster.

    Args:
        kubeconfig: Kubeconfig file (default: ``$KUBECONFIG``, ``~/.kube/config``,
            or the in-cluster service account).
        context: Kubeconfig context (default: its current context).
        request_timeout_s: Timeout of each API request.
        dynamic: A ready ``kubernetes.dynamic.DynamicClient`` (tests pass a fake).

    Raises:
        ClusterError: No configuration found, or the API server cannot be reached.
    """

    def __init__(self, *, kubeconfig: str | None = None, context: str | None = None,
                 request_timeout_s: float = 10.0, dynamic: Any = None) -> None:
        self.request_timeout_s = request_timeout_s
        self.server = "(given client)"
        self._dynamic = dynamic if dynamic is not None else self._connect(kubeconfig, context)

    def _connect(self, kubeconfig: str | None, context: str | None) -> Any:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.dynamic import DynamicClient

        path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
        try:
            if kubeconfig or os.environ.get("KUBECONFIG") or Path(path).exists():
                if not Path(path.split(os.pathsep)[0]).exists():
                    raise ClusterError(f"no Kubernetes cluster configured: kubeconfig {path} does not exist "
                                       "(set KUBECONFIG or --kubeconfig to the file `kubectl` uses)")
                api = config.new_client_from_config(config_file=path, context=context)
            else:
                config.load_incluster_config()
                api = client.ApiClient()
        except ConfigException as err:
            raise ClusterError(f"no Kubernetes cluster configured ({path}, and not running in a pod): {err}. "
                               "Set KUBECONFIG or --kubeconfig, or check `kubectl config get-contexts`") from None
        self.server = api.configuration.host
        # A private discovery cache, removed with this object: a shared one may predate
        # the CRDs just installed.
        self._cache_dir = tempfile.TemporaryDirectory(prefix="trigger-k8s-")
        try:
            return DynamicClient(api, cache_file=str(Path(self._cache_dir.name) / "discovery.json"))
        except Exception as err:  # urllib3 errors, TLS errors, 401/403 on discovery
            raise self._unreachable(err) from None

    def _unreachable(self, err: Exception) -> ClusterError:
        status = getattr(err, "status", None)
        if isinstance(status, int):  # the server answered, but refused (401, 403, ...)
            return ClusterError(f"the Kubernetes API server at {self.server} answered {status} "
                                f"{getattr(err, 'reason', '')}: check the credentials of your kubeconfig context")
        reason = str(getattr(err, "reason", "") or err)
        if "Connection refused" in reason:
            reason = "connection refused"
        return ClusterError(f"cannot reach the Kubernetes API server at {self.server}: {reason}. "
                            "Check that the cluster is up (`kubectl cluster-info`) and that KUBECONFIG "
                            "and the context point at it")

    def _resources(self, objects: Iterable[dict[str, Any]]) -> dict[tuple[str, str], Any]:
        """Look up every kind once; one error naming every missing operator."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        found: dict[tuple[str, str], Any] = {}
        missing: dict[str, list[str]] = {}
        for key in dict.fromkeys((obj["apiVersion"], obj["kind"]) for obj in objects):
            try:
                found[key] = self._dynamic.resources.get(api_version=key[0], kind=key[1])
            except ResourceNotFoundError:
                group = key[0].split("/")[0] if "/" in key[0] else "core"
                missing.setdefault(group, []).append(f"{key[1]} ({key[0]})")
            except Exception as err:
                raise self._unreachable(err) from None
        if missing:
            lines = [f"the cluster at {self.server} does not serve " + ", ".join(kinds) + ": "
                     + INSTALL_HINTS.get(group, f"install the CRDs of {group}") for group, kinds in missing.items()]
            raise ClusterError("; ".join(lines))
        return found

    def _call(self, obj: dict[str, Any], action: str, fn: Any, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        """Run one API request; None when ``missing_ok`` and the object does not exist."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        try:
            return fn(_request_timeout=self.request_timeout_s, **kwargs)
        except DynamicApiError as err:
            if err.status == 404 and missing_ok:
                return None
            message = err.summary() if hasattr(err, "summary") else str(err)
            raise ClusterError(f"{action} {_describe(obj)}: the API server answered {err.status}: {message}") from None
        except Exception as err:
            raise self._unreachable(err) from None

    def apply(self, objects: list[dict[str, Any]], *, dry_run: bool = False) -> list[str]:
        """Server-side apply ``objects`` in order.

        Args:
            objects: Manifests in apply order (:func:`trigger.k8s.render.render`).
            dry_run: Let the API server validate (and admission webhooks check)
                without storing anything.

        Returns:
            One line per object.

        Raises:
            ClusterError: Unreachable cluster, missing CRDs, or a refused object.
        """
        resources = self._resources(objects)
        done = []
        for obj in objects:
            meta = obj["metadata"]
            self._call(obj, "apply", self._dynamic.server_side_apply,
                       resource=resources[(obj["apiVersion"], obj["kind"])], body=obj, name=meta["name"],
                       namespace=meta.get("namespace"), field_manager=FIELD_MANAGER, force_conflicts=True,
                       dry_run="All" if dry_run else None)
            done.append(f"{_describe(obj)} {'checked (dry run)' if dry_run else 'applied'}")
        return done

    def delete(self, objects: list[dict[str, Any]], *, purge: bool = False) -> list[str]:
        """Delete ``objects`` in reverse order; the namespace and volumes stay unless ``purge``.

        Returns:
            One line per object (deleted, already gone, or kept).
        """
        resources = self._resources(objects)
        done = []
        for obj in reversed(objects):
            if obj["kind"] in _KEPT_KINDS and not purge:
                done.append(f"{_describe(obj)} kept (holds data; --purge deletes it)")
                continue
            meta = obj["metadata"]
            result = self._call(obj, "delete", self._dynamic.delete, missing_ok=True,
                                resource=resources[(obj["apiVersion"], obj["kind"])], name=meta["name"],
                                namespace=meta.get("namespace"), propagation_policy="Background")
            done.append(f"{_describe(obj)} {'already gone' if result is None else 'deleted'}")
        return done

    def status(self, objects: list[dict[str, Any]]) -> list[str]:
        """One line per rendered RayCluster, RayJob and their pods' groups, as the cluster sees them."""
        resources = self._resources(objects)
        lines = []
        for obj in objects:
            if obj["kind"] not in ("RayCluster", "RayJob"):
                continue
            meta = obj["metadata"]
            found = self._call(obj, "get", self._dynamic.get, missing_ok=True,
                               resource=resources[(obj["apiVersion"], obj["kind"])],
                               name=meta["name"], namespace=meta["namespace"])
            lines.append(_status_line(obj, found.to_dict() if found is not None else None))
        return lines


def _status_line(obj: dict[str, Any], live: dict[str, Any] | None) -> str:
    """``RayCluster trigger/trigger-online: ready, workers 3 available of 3 desired`` and the like."""
    if live is None:
        return f"{_describe(obj)}: not found (apply it)"
    status = live.get("status") or {}
    if obj["kind"] == "RayCluster":
        return (f"{_describe(obj)}: {status.get('state', 'pending')}, workers "
                f"{status.get('availableWorkerReplicas', 0)} available of {status.get('desiredWorkerReplicas', 0)} "
                f"desired, {status.get('desiredGPU', 0)} GPUs desired")
    suspended = " (suspended: waiting for Kueue admission)" if (live.get("spec") or {}).get("suspend") else ""
    return (f"{_describe(obj)}: deployment {status.get('jobDeploymentStatus', 'New')}, "
            f"job {status.get('jobStatus', 'PENDING')}{suspended}")
