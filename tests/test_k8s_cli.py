"""``trigger k8s render``: stdout, files, config files and overrides, CRD checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trigger.cli import main

pytestmark = pytest.mark.k8s

CRD_DIR = Path(__file__).resolve().parents[2] / "shared" / "k8s-crds"


def test_render_prints_every_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k8s", "render", "--preset", "gpu"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace" and kinds[-1] == "RayJob"
    assert {"RayCluster", "ClusterQueue", "LocalQueue", "ResourceFlavor", "WorkloadPriorityClass",
            "NetworkPolicy", "PersistentVolumeClaim", "PriorityClass"} <= set(kinds)


def test_render_writes_files_with_config_and_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "farm.yaml"
    config.write_text("gpus_per_worker: 2\nquota_gpus: 16\nfilter_max_workers: 3\n")
    out = tmp_path / "manifests"
    argv = ["k8s", "render", "--preset", "gpu", "--config", str(config), "--image", "reg.example/trigger:9",
            "--namespace", "hlt", "--replay-name", "run-7", "--out", str(out)]
    assert main(argv) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files[0] == "00-namespace-hlt.yaml" and files[-1] == "12-rayjob-run-7.yaml"
    cluster = yaml.safe_load((out / "11-raycluster-trigger-online.yaml").read_text())
    filters = cluster["spec"]["workerGroupSpecs"][1]
    assert filters["maxReplicas"] == 3
    assert filters["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2
    images = {g["template"]["spec"]["containers"][0]["image"]
              for g in [cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]]}
    assert images == {"reg.example/trigger:9"}
    assert "wrote 13 manifests" in capsys.readouterr().err


def test_render_bad_config_exits_1_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "farm.yaml"
    config.write_text("filter_max_worker: 3\n")
    assert main(["k8s", "render", "--config", str(config)]) == 1
    assert f"{config}: unknown option 'filter_max_worker'; did you mean 'filter_max_workers'" in capsys.readouterr().err


@pytest.mark.skipif(not CRD_DIR.is_dir(), reason=f"{CRD_DIR} is absent (KubeRay and Kueue CRD schemas)")
def test_render_validates_against_crds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["k8s", "render", "--preset", "gpu-ha", "--validate-crds", str(CRD_DIR), "--part", "farm"]) == 0
    assert "RayCluster" in capsys.readouterr().out
    # A CRD that closes RayCluster differently: its spec allows only rayVersion.
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "rayclusters.ray.io"},
           "spec": {"group": "ray.io", "scope": "Namespaced", "names": {"kind": "RayCluster", "plural": "rayclusters"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {
                            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                            "metadata": {"type": "object"},
                            "spec": {"type": "object", "properties": {"rayVersion": {"type": "string"}}}}}}}]}}
    (tmp_path / "ray.io_rayclusters.yaml").write_text(yaml.safe_dump(crd))
    assert main(["k8s", "render", "--validate-crds", str(tmp_path), "--part", "farm"]) == 1
    assert "RayCluster trigger-online: spec: Additional properties are not allowed" in capsys.readouterr().err
