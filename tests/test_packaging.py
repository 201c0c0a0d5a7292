"""The install ships every package and data file (a non-editable install would miss them silently)."""

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_trigger_subpackage_is_listed():
    found = set(find_packages(str(ROOT), include=["trigger", "trigger.*"]))
    listed = set(CONFIG["packages"])
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == {"trigger_bench"}


def test_bench_installs_as_trigger_bench_with_relative_imports_only():
    assert CONFIG["package-dir"] == {"trigger_bench": "bench"}
    for path in (ROOT / "bench").glob("*.py"):
        text = path.read_text()
        assert "from bench." not in text and "import bench." not in text, f"{path.name}: use relative imports"


def test_shipped_data_files_match_package_data_globs():
    globs = CONFIG["package-data"]["trigger"]
    for sub in ("menus", "mappings"):
        files = list((ROOT / "trigger" / sub).glob("*.yaml"))
        assert files and any(g.startswith(f"{sub}/") for g in globs)
