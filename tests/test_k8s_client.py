"""``trigger k8s apply | status | delete``: clear errors without a cluster, careful order with one.

No cluster is reachable here: the "no cluster" tests point KUBECONFIG at
127.0.0.1:1 (loopback, nothing listens); the rest use a fake dynamic client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError, api_exception

from trigger.cli import main
from trigger.k8s import preset, render
from trigger.k8s.client import ClusterClient, ClusterError

pytestmark = pytest.mark.k8s

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: nobody
  user: {token: not-a-token}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: nobody}
current-context: nowhere
"""


@pytest.fixture
def no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


@pytest.mark.parametrize("action", [["apply"], ["status"], ["delete"], ["apply", "--part", "replay", "--dry-run"]])
def test_cli_without_a_reachable_cluster_says_so(no_cluster: Path, action: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k8s", *action, "--preset", "cpu", "--timeout-s", "2"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Kubernetes API server at https://127.0.0.1:1: connection refused" in err
    assert "kubectl cluster-info" in err and "Traceback" not in err


def test_missing_kubeconfig_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent.yaml"))
    assert main(["k8s", "status"]) == 1
    err = capsys.readouterr().err
    assert f"kubeconfig {tmp_path / 'absent.yaml'} does not exist" in err


def test_no_kubeconfig_and_not_in_a_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ClusterError, match=r"no Kubernetes cluster configured .*not running in a pod"):
        ClusterClient()


class FakeResource:
    def __init__(self, api_version: str, kind: str) -> None:
        self.api_version, self.kind = api_version, kind


class FakeInstance:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data


def _api_error(status: int, message: str) -> Exception:
    err = ApiException(status=status, reason="refused")
    err.body = json.dumps({"message": message})
    err.headers = {"Content-Type": "application/json"}
    return api_exception(err)


class FakeDynamic:
    """Records calls; serves only the API groups in ``served``."""

    def __init__(self, served: tuple[str, ...] = ("core", "ray.io", "kueue.x-k8s.io"),
                 errors: dict[tuple[str, str], Exception] | None = None,
                 live: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self.served, self.errors, self.live = served, errors or {}, live or {}
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.resources = self

    def get(self, *, api_version: str | None = None, kind: str | None = None, resource: Any = None,
            name: str | None = None, namespace: str | None = None, **kwargs: Any) -> Any:
        if resource is None:  # resources.get(api_version=, kind=)
            group = api_version.split("/")[0] if "/" in api_version else "core"
            if group not in self.served and group not in ("scheduling.k8s.io", "networking.k8s.io", "apps"):
                raise ResourceNotFoundError(f"No matches found for {kind}")
            return FakeResource(api_version, kind)
        self.calls.append(("get", resource.kind, name, kwargs))
        if (resource.kind, name) not in self.live:
            raise _api_error(404, "not found")
        return FakeInstance(self.live[(resource.kind, name)])

    def server_side_apply(self, *, resource: FakeResource, body: dict[str, Any], name: str,
                          namespace: str | None, **kwargs: Any) -> None:
        self.calls.append(("apply", resource.kind, name, kwargs))
        if (resource.kind, name) in self.errors:
            raise self.errors[(resource.kind, name)]

    def delete(self, *, resource: FakeResource, name: str, namespace: str | None, **kwargs: Any) -> Any:
        self.calls.append(("delete", resource.kind, name, kwargs))
        if (resource.kind, name) in self.errors:
            raise self.errors[(resource.kind, name)]
        return object()


def test_missing_crds_name_the_operator_to_install_and_nothing_is_applied() -> None:
    fake = FakeDynamic(served=("core",))
    with pytest.raises(ClusterError) as err:
        ClusterClient(dynamic=fake).apply(render(preset("gpu")))
    message = str(err.value)
    assert "RayCluster (ray.io/v1), RayJob (ray.io/v1)" in message
    assert "install KubeRay: helm repo add kuberay" in message and "helm install kuberay-operator" in message
    assert "install Kueue" in message and "ClusterQueue (kueue.x-k8s.io/v1beta2)" in message
    assert message.count("ResourceFlavor") == 1  # two flavors, one kind
    assert fake.calls == []


def test_apply_is_server_side_in_dependency_order() -> None:
    objects = render(preset("gpu-ha"), part="farm")
    fake = FakeDynamic()
    lines = ClusterClient(dynamic=fake).apply(objects, dry_run=True)
    applied = [(kind, name) for action, kind, name, _ in fake.calls]
    assert applied == [(o["kind"], o["metadata"]["name"]) for o in objects]
    kinds = [kind for kind, _ in applied]
    assert kinds[0] == "Namespace" and kinds[-1] == "RayCluster"
    assert kinds.index("ClusterQueue") > kinds.index("ResourceFlavor")
    assert kinds.index("Deployment") > kinds.index("PersistentVolumeClaim")
    for _, _, _, kwargs in fake.calls:
        assert kwargs["field_manager"] == "trigger" and kwargs["force_conflicts"] is True
        assert kwargs["dry_run"] == "All" and kwargs["_request_timeout"] == 10.0
    assert lines[-1] == "RayCluster trigger/trigger-online checked (dry run)"


def test_refused_object_is_named_with_the_servers_reason() -> None:
    job = render(preset("base"), part="replay")
    fake = FakeDynamic(errors={("RayJob", "trigger-replay"): _api_error(
        403, 'admission webhook "vrayjob.kb.io" denied the request: a kueue managed job should not use autoscaling')})
    with pytest.raises(ClusterError) as err:
        ClusterClient(dynamic=fake).apply(job)
    assert "apply RayJob trigger/trigger-replay: the API server answered 403" in str(err.value)
    assert "should not use autoscaling" in str(err.value)


def test_delete_goes_in_reverse_and_keeps_data_unless_purged() -> None:
    objects = render(preset("cpu"), part="farm")
    fake = FakeDynamic(errors={("RayCluster", "trigger-online"): _api_error(404, "gone")})
    lines = ClusterClient(dynamic=fake).delete(objects)
    deleted = [(kind, name) for _, kind, name, _ in fake.calls]
    assert deleted[0] == ("RayCluster", "trigger-online")
    assert ("Namespace", "trigger") not in deleted and ("PersistentVolumeClaim", "trigger-data") not in deleted
    assert "RayCluster trigger/trigger-online already gone" in lines
    assert "PersistentVolumeClaim trigger/trigger-data kept (holds data; --purge deletes it)" in lines
    purged = FakeDynamic()
    ClusterClient(dynamic=purged).delete(objects, purge=True)
    assert [c[1:3] for c in purged.calls][-1] == ("Namespace", "trigger")


def test_status_reports_cluster_and_job_state() -> None:
    fake = FakeDynamic(live={
        ("RayCluster", "trigger-online"): {"status": {"state": "ready", "availableWorkerReplicas": 3,
                                                      "desiredWorkerReplicas": 4, "desiredGPU": 3}},
    })
    lines = ClusterClient(dynamic=fake).status(render(preset("gpu")))
    assert lines == [
        "RayCluster trigger/trigger-online: ready, workers 3 available of 4 desired, 3 GPUs desired",
        "RayJob trigger/trigger-replay: not found (apply it)",
    ]
