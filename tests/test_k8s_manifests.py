"""Every manifest validates: the kustomize build of each overlay and the render of several configs.

Core objects are checked by ``kubernetes-validate`` in strict mode (unknown
fields rejected); RayCluster, RayJob and Kueue objects by ``jsonschema``
against the real CRDs in ``../shared/k8s-crds`` with every object schema
closed (:func:`trigger.k8s.crdschema.strict`), because kubernetes-validate
passes unknown kinds silently. The kustomize tree and ``render`` must give
identical objects, and every RayJob entrypoint must parse with the CLI's own parser.
"""

from __future__ import annotations

import functools
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from trigger.cli import build_parser
from trigger.k8s import DeployConfig, preset, render
from trigger.k8s.crdschema import CrdSchemas

pytestmark = pytest.mark.k8s

ROOT = Path(__file__).resolve().parents[1]
CRD_DIR = Path(__file__).resolve().parents[2] / "shared" / "k8s-crds"
#: The oldest Kubernetes the manifests target, and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
#: kustomize directory, the render preset it must equal, and the render part.
KUSTOMIZATIONS = [
    ("base", "base", "farm"),
    ("replay", "base", "replay"),
    ("overlays/cpu", "cpu", "farm"),
    ("overlays/cpu/replay", "cpu", "replay"),
    ("overlays/gpu", "gpu", "farm"),
    ("overlays/gpu/replay", "gpu", "replay"),
    ("overlays/gpu-ha", "gpu-ha", "farm"),
]
#: Configs beyond the presets: each changes something the manifests depend on.
RENDER_CONFIGS = {
    **{f"preset-{name}": preset(name) for name in ("base", "cpu", "gpu", "gpu-ha")},
    "other-names": DeployConfig(name="l1t", namespace="hlt-farm", queue="hlt-replays", cluster_queue="hlt",
                                priority="l1t-online", replay_name="run-386025", data_claim="recorded",
                                storage_class="cephfs", replay_menu="/data/menus/physics.yaml",
                                replay_inputs=("/data/recorded/run-386025", "/data/recorded/run-386026")),
    "two-gpus-per-pod": preset("gpu").replace(gpus_per_worker=2, quota_gpus=16, filter_max_workers=4,
                                              replay_filters=8, replay_gpus_per_filter=0.5),
    "cpu-with-gcs-ft": preset("cpu").replace(gcs_fault_tolerance=True, io_workers=0, io_min_workers=0,
                                             replay_io_workers=0),
}


def _kustomize() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@functools.cache
def _build(path: str) -> tuple[dict[str, Any], ...]:
    command = _kustomize()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed (the kustomize build needs one of them)")
    done = subprocess.run([*command, str(ROOT / "k8s" / path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"kustomize build k8s/{path} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@pytest.fixture(scope="module")
def crds() -> CrdSchemas:
    if not CRD_DIR.is_dir():
        pytest.skip(f"{CRD_DIR} is absent: the KubeRay and Kueue CRD schemas are needed to validate custom resources")
    return CrdSchemas(CRD_DIR)


def _problems(obj: dict[str, Any], crds: CrdSchemas) -> list[str]:
    """Everything wrong with one object (empty: valid)."""
    name = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
    if crds.knows(obj):
        problems = crds.errors(obj)
        # The CRD schemas leave metadata open: check it as the ObjectMeta it is.
        meta_holder = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
        scope = crds.scopes[(obj["apiVersion"], obj["kind"])]
        if (scope == "Namespaced") != ("namespace" in obj["metadata"]):
            problems.append(f"{name}: a {scope} kind, but metadata.namespace is "
                            f"{obj['metadata'].get('namespace', 'absent')}")
        checks = [(meta_holder, version) for version in K8S_VERSIONS[:1]]
    else:
        problems = []
        checks = [(obj, version) for version in K8S_VERSIONS]
    for doc, version in checks:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.absolute_path)
            problems.append(f"{name} (Kubernetes {version}): {path}: {err.message}")
        except kubernetes_validate.SchemaNotFoundError as err:
            problems.append(f"{name}: no schema, neither built in nor a CRD: {err.message}")
    return problems


@pytest.mark.parametrize(("path", "preset_name", "part"), KUSTOMIZATIONS, ids=[k[0] for k in KUSTOMIZATIONS])
def test_kustomize_build_validates(path: str, preset_name: str, part: str, crds: CrdSchemas) -> None:
    objects = _build(path)
    assert objects, f"k8s/{path} built no objects"
    problems = [p for obj in objects for p in _problems(obj, crds)]
    assert problems == []


@pytest.mark.parametrize("name", list(RENDER_CONFIGS))
def test_render_validates(name: str, crds: CrdSchemas) -> None:
    problems = [p for obj in render(RENDER_CONFIGS[name]) for p in _problems(obj, crds)]
    assert problems == []


def test_validation_rejects_unknown_and_misplaced_fields(crds: CrdSchemas) -> None:
    """The checks above are not vacuous: a typo anywhere is caught."""
    objects = {o["kind"]: o for o in render(preset("gpu"))}
    cluster = objects["RayCluster"]
    cluster["spec"]["workerGroupSpecs"][1]["minReplica"] = 1
    cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFS"] = True
    job = objects["RayJob"]
    job["spec"]["rayClusterSpec"]["enableInTreeAutoscaler"] = False
    queue = objects["ClusterQueue"]
    queue["spec"]["cohort"] = "old-v1beta1-field"
    claim = objects["PersistentVolumeClaim"]
    claim["spec"]["accessMode"] = ["ReadWriteMany"]
    problems = [p for obj in (cluster, job, queue, claim) for p in _problems(obj, crds)]
    for field in ("minReplica", "readOnlyRootFS", "enableInTreeAutoscaler", "cohort", "accessMode"):
        assert any(field in p for p in problems), f"{field} not reported in {problems}"
    wrong_scope = {**objects["LocalQueue"], "metadata": {"name": "q"}}
    assert any("Namespaced kind" in p for p in _problems(wrong_scope, crds))


def _diff(built: Any, rendered: Any, path: str) -> list[str]:
    if isinstance(built, dict) and isinstance(rendered, dict):
        out = [f"{path}.{k}: only in {'kustomize' if k in built else 'render'}" for k in set(built) ^ set(rendered)]
        return out + [d for k in set(built) & set(rendered) for d in _diff(built[k], rendered[k], f"{path}.{k}")]
    if isinstance(built, list) and isinstance(rendered, list) and len(built) == len(rendered):
        return [d for i, (b, r) in enumerate(zip(built, rendered, strict=True)) for d in _diff(b, r, f"{path}[{i}]")]
    return [] if built == rendered else [f"{path}: kustomize {built!r} != render {rendered!r}"]


@pytest.mark.parametrize(("path", "preset_name", "part"), KUSTOMIZATIONS, ids=[k[0] for k in KUSTOMIZATIONS])
def test_kustomize_tree_equals_render(path: str, preset_name: str, part: str) -> None:
    def key(obj: dict[str, Any]) -> tuple[str, str]:
        return obj["kind"], obj["metadata"]["name"]

    built = {key(o): o for o in _build(path)}
    rendered = {key(o): o for o in render(preset(preset_name), part=part)}
    assert sorted(built) == sorted(rendered), f"k8s/{path} and render(preset {preset_name!r}) differ in objects"
    differences = [d for k in built for d in _diff(built[k], rendered[k], f"{k[0]} {k[1]}")]
    assert differences == [], f"k8s/{path} differs from `trigger k8s render --preset {preset_name} --part {part}`"


def _parse_trigger_command(command: str, where: str) -> None:
    argv = shlex.split(command, comments=True)
    assert argv[0] == "trigger", f"{where}: the entrypoint runs {argv[0]!r}, not the trigger CLI"
    try:
        args = build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"{where}: the trigger CLI does not accept: {command}")
    assert getattr(args, "func", None) is not None, f"{where}: {command!r} names no runnable command"


def test_manifest_entrypoints_parse_with_the_cli() -> None:
    jobs = [(f"k8s/{path}", o) for path, _, part in KUSTOMIZATIONS if part == "replay" for o in _build(path)]
    jobs += [(f"render {name}", o) for name, cfg in RENDER_CONFIGS.items() for o in render(cfg, part="replay")]
    assert len(jobs) >= len(RENDER_CONFIGS) + 3
    for where, job in jobs:
        assert job["kind"] == "RayJob"
        _parse_trigger_command(job["spec"]["entrypoint"], f"{where} RayJob {job['metadata']['name']}")


def test_documented_commands_parse_with_the_cli() -> None:
    """The ``trigger ...`` commands in the deployment guide (also after ``ray job submit ... --``)."""
    text = (ROOT / "docs" / "deploy-kubernetes.md").read_text()
    blocks, block, language = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language = line[3:].strip()
            else:
                if language in ("bash", "sh", "console"):
                    blocks.append("\n".join(block))
                block, language = [], None
        elif language is not None:
            block.append(line)
    commands = []
    for block_text in blocks:
        for line in block_text.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            if " -- trigger " in line:
                line = line.split(" -- ", 1)[1]
            if line.startswith("trigger "):
                commands.append(line.split(" | ")[0].split(" > ")[0])
    assert len(commands) >= 3, "the guide lost its trigger commands"
    for command in commands:
        _parse_trigger_command(command, "docs/deploy-kubernetes.md")
