"""The PNG plots render from results files; a plot without its results is skipped with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_samples import SAMPLES

pytest.importorskip("matplotlib")

from trigger_bench import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_plot_renders_from_complete_results(tmp_path: Path) -> None:
    done = plots.make_plots(json.loads(json.dumps(SAMPLES)), tmp_path)
    assert set(done) == {"stages", "peers", "payload", "scaling", "latency_vs_load", "latency_histogram"}
    for name, where in done.items():
        assert where == str(tmp_path / f"{name}.png"), where
        data = Path(where).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000  # a drawn figure, not an empty canvas


def test_plots_without_results_are_skipped_with_the_reason(tmp_path: Path) -> None:
    done = plots.make_plots({"payload": SAMPLES["payload"]}, tmp_path)
    assert done["payload"].endswith("payload.png")
    assert done["latency_vs_load"] == "skipped: no results for it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["payload.png"]


def test_an_unexpected_layout_is_skipped_not_fatal(tmp_path: Path) -> None:
    done = plots.make_plots({"peers": {"peers": {"engine": {}}, "repeats": 1}, "payload": SAMPLES["payload"]},
                            tmp_path)
    assert done["peers"].startswith("skipped: unexpected results layout (KeyError")
    assert done["payload"].endswith("payload.png")


def test_scaling_plot_with_only_one_of_its_two_sources(tmp_path: Path) -> None:
    assert plots.make_plots({"farm": SAMPLES["farm"]}, tmp_path)["scaling"].endswith("scaling.png")
    assert plots.make_plots({"scaling": SAMPLES["scaling"]}, tmp_path)["scaling"].endswith("scaling.png")
