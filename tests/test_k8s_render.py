"""What the rendered manifests promise: autoscaling, sizes, security, Kueue admission, configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trigger.errors import ConfigError
from trigger.k8s import DeployConfig, load_config, preset, render
from trigger.k8s.config import quantity_bytes
from trigger.k8s.kueue import admission_problems, workload_requests
from trigger.k8s.raycluster import HEAD_PORTS, ray_job

pytestmark = pytest.mark.k8s

CLUSTER_SCOPED = {"Namespace", "PriorityClass", "ResourceFlavor", "WorkloadPriorityClass", "ClusterQueue"}


def _objects(config: DeployConfig, part: str = "all") -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in render(config, part=part):
        out.setdefault(obj["kind"], []).append(obj)
    return out


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pod spec inside a RayCluster, RayJob or Deployment."""
    spec = obj["spec"]
    if obj["kind"] == "Deployment":
        return [spec["template"]["spec"]]
    cluster = spec["rayClusterSpec"] if obj["kind"] == "RayJob" else spec
    pods = [cluster["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in cluster["workerGroupSpecs"]]
    if obj["kind"] == "RayJob":
        pods.append(spec["submitterPodTemplate"]["spec"])
    return pods


def _walk(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [node, *[x for v in node.values() for x in _walk(v)]]
    if isinstance(node, list):
        return [x for v in node for x in _walk(v)]
    return [node]


@pytest.mark.parametrize("name", ["base", "cpu", "gpu", "gpu-ha"])
def test_online_cluster_autoscales_filters_and_keeps_the_head_free(name: str) -> None:
    config = preset(name)
    cluster = _objects(config)["RayCluster"][0]["spec"]
    assert cluster["enableInTreeAutoscaling"] is True
    assert cluster["autoscalerOptions"]["version"] == "v2"
    assert cluster["autoscalerOptions"]["idleTimeoutSeconds"] == config.idle_timeout_s
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert {"name": "RAY_enable_autoscaler_v2", "value": "1"} in head["template"]["spec"]["containers"][0]["env"]
    groups = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    assert set(groups) == {"io", "filters"}
    filters = groups["filters"]
    assert (filters["minReplicas"], filters["maxReplicas"]) == (config.filter_min_workers, config.filter_max_workers)
    limits = filters["template"]["spec"]["containers"][0]["resources"]["limits"]
    if config.gpus_per_worker:
        assert limits["nvidia.com/gpu"] == config.gpus_per_worker
        assert filters["template"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    else:
        assert "nvidia.com/gpu" not in limits
    # Autoscaler v2 needs failed Ray nodes replaced, not restarted in place.
    assert {p.get("restartPolicy") for p in _pod_specs({"kind": "RayCluster", "spec": cluster})} == {"Never"}


def test_cpu_preset_asks_for_no_gpu_anywhere() -> None:
    assert "nvidia.com/gpu" not in str(render(preset("cpu")))


@pytest.mark.parametrize("name", ["base", "cpu", "gpu", "gpu-ha"])
def test_every_container_is_locked_down(name: str) -> None:
    containers = []
    for obj in render(preset(name)):
        if obj["kind"] in ("RayCluster", "RayJob", "Deployment"):
            for pod in _pod_specs(obj):
                assert pod["securityContext"]["runAsNonRoot"] is True
                assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
                containers += pod["containers"]
        if obj["kind"] == "RayCluster":
            containers.append(obj["spec"]["autoscalerOptions"])
    assert len(containers) >= 5
    for container in containers:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True
        resources = container["resources"]
        assert resources["requests"] == resources["limits"], container.get("name")


@pytest.mark.parametrize("name", ["base", "cpu", "gpu"])
def test_ray_pods_have_writable_tmp_and_an_object_store_sized_shm(name: str) -> None:
    for obj in render(preset(name)):
        if obj["kind"] not in ("RayCluster", "RayJob"):
            continue
        cluster = obj["spec"].get("rayClusterSpec", obj["spec"])
        groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
        for group in groups:
            pod = group["template"]["spec"]
            mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]
            shm = volumes[mounts["/dev/shm"]]["emptyDir"]
            assert shm["medium"] == "Memory"
            store = int(group["rayStartParams"]["object-store-memory"])
            memory = quantity_bytes(pod["containers"][0]["resources"]["limits"]["memory"])
            assert store <= quantity_bytes(shm["sizeLimit"]) < memory


def test_no_load_balancer_and_ray_ports_stay_in_the_namespace() -> None:
    objects = render(preset("gpu-ha"))
    assert "LoadBalancer" not in str(objects)
    kinds = _objects(preset("gpu-ha"))
    assert kinds["RayCluster"][0]["spec"]["headGroupSpec"]["serviceType"] == "ClusterIP"
    policy = next(p for p in kinds["NetworkPolicy"] if p["metadata"]["name"] == "trigger-ray")
    pod_labels = kinds["RayCluster"][0]["spec"]["headGroupSpec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    job_labels = kinds["RayJob"][0]["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= job_labels.items()
    same_namespace, operator = policy["spec"]["ingress"]
    assert same_namespace == {"from": [{"podSelector": {}}]}
    assert operator["ports"] == [{"protocol": "TCP", "port": HEAD_PORTS["dashboard"]}]
    assert "podSelector" not in operator["from"][0]
    head_ports = {p["containerPort"] for p in
                  kinds["RayCluster"][0]["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {6379, 8265, 10001} <= head_ports


def test_scopes_and_no_none_values() -> None:
    for obj in render(DeployConfig(namespace="farm")):
        assert ("namespace" in obj["metadata"]) == (obj["kind"] not in CLUSTER_SCOPED), obj["kind"]
        if "namespace" in obj["metadata"]:
            assert obj["metadata"]["namespace"] == "farm"
        assert None not in _walk(obj), f"{obj['kind']} holds a None"


def test_replay_is_kueue_admissible_and_online_is_not_kueue_managed() -> None:
    config = preset("gpu")
    kinds = _objects(config)
    job, queue = kinds["RayJob"][0], kinds["ClusterQueue"][0]
    assert admission_problems(job, queue) == []
    labels = job["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == kinds["LocalQueue"][0]["metadata"]["name"] == config.queue
    assert labels["kueue.x-k8s.io/priority-class"] == config.priority
    cluster = job["spec"]["rayClusterSpec"]
    assert cluster["enableInTreeAutoscaling"] is False and "autoscalerOptions" not in cluster
    for group in cluster["workerGroupSpecs"]:
        assert group["replicas"] == group["minReplicas"] == group["maxReplicas"]
    assert not any(k.startswith("kueue.x-k8s.io/") for k in kinds["RayCluster"][0]["metadata"]["labels"])
    # What Kueue counts: head + io + 2 filter pods + submitter: 2+4+16+0.5 CPUs, 8+16+64+1 GiB, 2 GPUs.
    assert workload_requests(job) == pytest.approx({"cpu": 22.5, "memory": 89 * 2**30, "nvidia.com/gpu": 2})


def test_admission_problems_catch_what_kueue_refuses() -> None:
    config = preset("base")
    kinds = _objects(config)
    job, queue = kinds["RayJob"][0], kinds["ClusterQueue"][0]
    job["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] = True
    job["spec"]["shutdownAfterJobFinishes"] = False
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["groupName"] = "head"
    problems = " ".join(admission_problems(job, queue))
    for word in ("autoscaling", "shutdownAfterJobFinishes", "'head'"):
        assert word in problems


def test_replay_that_exceeds_the_quota_or_its_cluster_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"requests 22\.5 cpu but ClusterQueue trigger has a quota of 4:"):
        render(preset("base").replace(quota_cpu="4"))
    with pytest.raises(ConfigError, match="need 0 CPUs and 4 GPUs"):
        render(preset("base").replace(replay_cpus_per_filter=0.0, replay_gpus_per_filter=1.0))
    with pytest.raises(ConfigError, match="replay_filters=40"):
        render(preset("cpu").replace(replay_filters=40))
    assert render(preset("cpu").replace(quota_cpu="4"), part="farm")  # the farm alone needs no quota


def test_priorities_put_online_above_backfill() -> None:
    kinds = _objects(preset("base"))
    for kind in ("PriorityClass", "WorkloadPriorityClass"):
        values = {o["metadata"]["name"]: o["value"] for o in kinds[kind]}
        assert values["trigger-online"] > values["trigger-backfill"], kind
    backfill = next(o for o in kinds["PriorityClass"] if o["metadata"]["name"] == "trigger-backfill")
    assert backfill["preemptionPolicy"] == "Never"
    online_pods = _pod_specs(kinds["RayCluster"][0])
    assert {p["priorityClassName"] for p in online_pods} == {"trigger-online"}
    assert {p["priorityClassName"] for p in _pod_specs(ray_job(preset("base")))} == {"trigger-backfill"}


def test_gcs_fault_tolerance_points_at_the_redis_it_deploys() -> None:
    kinds = _objects(preset("gpu-ha"), part="farm")
    ft = kinds["RayCluster"][0]["spec"]["gcsFaultToleranceOptions"]
    service = next(s for s in kinds["Service"] if s["metadata"]["name"] == "trigger-redis")
    assert ft["redisAddress"] == f"{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    redis = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    assert ft["redisPassword"]["valueFrom"] == redis["env"][0]["valueFrom"]
    assert "gcsFaultToleranceOptions" not in str(render(preset("gpu")))


def test_load_config_applies_file_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "farm.yaml"
    path.write_text("image: registry.example/trigger:1.2\ngpus_per_worker: 2\nquota_gpus: 16\n"
                    "replay_inputs: /data/run-1\n")
    config = load_config(path, base="gpu", overrides={"namespace": "hlt", "image": None})
    assert (config.image, config.gpus_per_worker, config.namespace) == ("registry.example/trigger:1.2", 2, "hlt")
    assert config.replay_inputs == ("/data/run-1",)
    assert config.replay_gpus_per_filter == 0.5  # from the preset


@pytest.mark.parametrize(("text", "message"), [
    ("gpus_per_worke: 1\n", "unknown option 'gpus_per_worke'; did you mean 'gpus_per_worker'"),
    ("io_workers: '2'\n", "option 'io_workers' must be int"),
    ("namespace: Trigger_Farm\n", "not a valid object name"),
    ("filter_memory: 32GB\n", "not a Kubernetes quantity"),
    ("filter_workers: 9\n", "filter_max_workers (8)"),
    ("priority: urgent\n", "priority must be trigger-online or trigger-backfill"),
    ("- a list\n", "expected a mapping"),
])
def test_bad_config_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)


def test_unknown_preset_and_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"unknown preset 'gpux'.*did you mean 'gpu'"):
        preset("gpux")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Path("/nonexistent/farm.yaml"))
