"""``trigger bench``: the steps, the options each benchmark gets, and one command regenerating plots and tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_samples import write_samples
from trigger_bench import run_all

from trigger.cli import bench as bench_cli
from trigger.cli import build_parser, main


def test_cli_steps_match_the_runner() -> None:
    assert bench_cli.STEPS == run_all.STEPS
    args = build_parser().parse_args(["bench", "peers", "--events", "1000", "--repeats", "2", "--quick"])
    assert (args.step, args.events, args.repeats, args.quick) == ("peers", 1000, 2, True)
    assert build_parser().parse_args(["bench"]).step == "all"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "everything"])


def test_each_benchmark_gets_only_the_options_it_has(tmp_path: Path) -> None:
    argv = run_all.bench_argv
    assert argv("replay", events=1000, repeats=2, out=tmp_path, quick=False) == [
        "--events", "1000", "--repeats", "2", "--out", str(tmp_path)]
    # --quick sizes, with --events overriding the quick count rather than repeating the flag.
    quick = argv("peers", events=5000, repeats=None, out=tmp_path, quick=True)
    assert quick.count("--events") == 1 and quick[quick.index("--events") + 1] == "5000"
    assert "--strawman-events" in quick
    assert argv("scaling", events=1000, repeats=3, out=tmp_path, quick=False) == ["--out", str(tmp_path)]
    assert argv("farm", events=None, repeats=3, out=tmp_path, quick=True) == ["--quick", "--out",
                                                                              str(tmp_path / "farm.json")]
    assert "--out" not in argv("inference", events=None, repeats=None, out=tmp_path, quick=False)


def test_report_regenerates_plots_and_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    results = write_samples(tmp_path / "results")
    assert main(["bench", "report", "--out", str(results)]) == 0
    assert (results / "benchmarks.md").read_text().startswith("Machine: Test CPU")
    assert {p.name for p in (results / "plots").iterdir()} >= {"stages.png", "payload.png", "scaling.png"}
    out = capsys.readouterr().out
    assert "plots      ok" in out and "report     ok" in out


def test_a_failing_benchmark_does_not_stop_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    def fake(name: str, argv: list[str], out: Path) -> None:
        ran.append(name)
        if name == "farm":
            raise RuntimeError("no Ray here")

    monkeypatch.setattr(run_all, "_run_benchmark", fake)
    status = run_all.run_steps(["all"], out=write_samples(tmp_path / "results"), quick=True)
    assert ran == list(run_all.BENCHMARKS)
    assert status["farm"] == "FAILED: RuntimeError: no Ray here"
    assert status["report"].startswith("ok") and status["plots"].startswith("ok")


def test_unknown_step_and_bad_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unknown benchmark step"):
        run_all.run_steps(["fast"], out=tmp_path)
    assert main(["bench", "replay", "--events", "0", "--out", str(tmp_path)]) == 1
    assert "--events must be at least 1" in capsys.readouterr().err
