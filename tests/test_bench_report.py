"""The Markdown tables from results files, and their embedding between markers in a document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_samples import SAMPLES, write_samples
from trigger_bench import report


def test_renders_a_section_per_results_file(tmp_path: Path) -> None:
    md = report.render(report.load_results(write_samples(tmp_path)))
    assert md.startswith("Machine: Test CPU, 2 cores usable")
    assert "| stage | events/s |" in md and "| read_ipc | 150,000,000 |" in md
    assert "| end to end, ipc_1core | 2,090,000 (1,881,000–2,299,000) |" in md
    assert "| ipc_2core_vs_1core | 1.44 | 1.8 |" in md  # measured beside its goal
    assert "| awkward | 730,000 (657,000–803,000) | 1.370 | 1,000,000 | yes | 6.4 |" in md
    assert "| 1,000,000 | 2,048 |" in md  # payload sweep row
    assert "| 2 x 2 | 502 | 4.0% |" in md  # control plane row
    assert "Parquet: Ray Data map_batches | 400,000 (farm is x3.75)" in md
    assert "| 120% |" in md  # latency versus load
    assert "| 50% | 1,400,000 | 80.0 | 210.0 | 25.0 | 8.4 | 0.0% |" in md  # p99 / service beside its parts
    assert "| anomaly_ae | cpu | 65,536 | 4,000,000 | 2,000,000 |" in md
    assert "Not run" not in md


def test_lists_what_was_not_run_and_survives_an_odd_layout(tmp_path: Path) -> None:
    write_samples(tmp_path, ("replay",))
    (tmp_path / "peers.json").write_text(json.dumps({"peers": "unexpected"}))
    (tmp_path / "junk.json").write_text("{not json")
    md = report.render(report.load_results(tmp_path))
    assert "Not run: io, payload, scaling, farm, inference" in md
    assert "**peers**: results file has an unexpected layout" in md and "rerun `trigger bench peers`" in md
    assert "| read_ipc |" in md


def test_a_failed_peer_check_shows(tmp_path: Path) -> None:
    data = json.loads(json.dumps(SAMPLES["peers"]))
    data["agrees_with_engine"]["awkward"] = False
    (tmp_path / "peers.json").write_text(json.dumps(data))
    assert "| **no** |" in report.render(report.load_results(tmp_path))


def test_embed_replaces_only_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nIntro.\n\n{report.BEGIN}\nold table\n{report.END}\n\nDiscussion stays.\n")
    report.embed(doc, "| new | table |\n")
    text = doc.read_text()
    assert "old table" not in text
    assert f"{report.BEGIN}\n| new | table |\n{report.END}" in text
    assert text.startswith("# Benchmarks\n\nIntro.") and text.endswith("Discussion stays.\n")
    report.embed(doc, "| newer |\n")  # idempotent: the markers stay for the next run
    assert doc.read_text().count(report.BEGIN) == 1 and "| new | table |" not in doc.read_text()


def test_embed_without_markers_says_where_to_put_them(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("no markers here\n")
    with pytest.raises(ValueError, match="expected the markers"):
        report.embed(doc, "x")


def test_main_writes_the_tables_and_embeds_in_the_given_doc(tmp_path: Path) -> None:
    results = write_samples(tmp_path / "results")
    doc = tmp_path / "doc.md"
    doc.write_text(f"{report.BEGIN}\n{report.END}\n")
    md = report.main(["--results", str(results), "--doc", str(doc)])
    assert (results / "benchmarks.md").read_text() == md
    assert md in doc.read_text()


def test_the_shipped_document_has_the_markers() -> None:
    text = report.DOC_PATH.read_text(encoding="utf-8")
    assert text.index(report.BEGIN) < text.index(report.END)
