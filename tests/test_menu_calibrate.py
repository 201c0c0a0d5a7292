"""Tests of threshold calibration and of the faithful menu rewrite (trigger menu calibrate)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from trigger.cli import main
from trigger.cli.replay import load_engine
from trigger.errors import ConfigError, MenuError
from trigger.features.frame import FeatureFrame
from trigger.inference import package_models_dir, sha256_file
from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig, generate_batches
from trigger.menu import load_menu
from trigger.menu.calibrate import calibrate_threshold
from trigger.menu.menu_text import (
    find_threshold,
    format_threshold,
    replace_threshold,
)

AE_SHA = sha256_file(package_models_dir() / "anomaly_ae.onnx")
MENU = textwrap.dedent(f"""\
    # A menu with comments, which calibration must keep.
    menu: cal
    streams: {{S: {{}}}}
    models:
      ae: {{file: anomaly_ae.onnx, sha256: {AE_SHA}, providers: [cpu]}}  # pinned
    paths:
      - name: AE            # the path to calibrate
        seed: met > 20
        cut:
          - n_jets(pt > 30) >= 0
          - "score.ae > 1.5"   # set by calibrate
        stream: S
      - {{name: Other, cut: "score.ae >= 2 and met > 50", stream: S}}
    """)


class MetScorer:
    """A stand-in model whose score is the event's MET (so the answer is known)."""

    def score(self, frame: FeatureFrame, rows: np.ndarray) -> np.ndarray:
        out = np.full(frame.n_events, np.nan, dtype=np.float32)
        out[rows] = frame.column("met_pt")[rows]
        return out


@pytest.fixture(scope="module")
def batches():
    return list(generate_batches(30_000, config=GeneratorConfig(seed=12), batch_size=7_000))


def test_find_and_replace_touch_only_the_number():
    site = find_threshold(MENU, path="AE", model="ae")
    assert (site.cut_index, site.op, site.value) == (1, ">", 1.5)
    new = replace_threshold(MENU, site, 3.25)
    assert new == MENU.replace('"score.ae > 1.5"', '"score.ae > 3.25"')
    other = find_threshold(MENU, path="Other", model="ae")
    assert other.op == ">=" and MENU[other.start:other.end] == "2"
    with pytest.raises(MenuError, match="path 'AE' has no cut terms of the form `score.xx > NUMBER`"):
        find_threshold(MENU, path="AE", model="xx")
    with pytest.raises(MenuError, match="no path named 'Nope'"):
        find_threshold(MENU, path="Nope", model="ae")


@pytest.mark.parametrize("value", [1.5, 0.1, 4.387172, 1e-9, 3.4e20, -2.0])
def test_thresholds_are_written_exactly_as_float32(value):
    text = format_threshold(value)
    assert np.float32(float(text)) == np.float32(value)
    with pytest.raises(ConfigError):
        format_threshold(float("nan"))


def test_calibration_picks_the_lowest_threshold_within_the_rate(batches):
    menu = load_menu(MENU)
    result = calibrate_threshold(menu, path="AE", model=None, target_rate_hz=500.0, input_rate_hz=100_000.0,
                                 batches=batches, scorers={"ae": MetScorer()})
    met = np.concatenate([b.column("met_pt").to_numpy() for b in batches])
    allowed = int(500 / 100_000 * met.size)
    expected = np.sort(met[met > 20])[::-1][allowed]  # the (allowed+1)-th highest seeded score
    assert result.model == "ae" and result.threshold == expected
    assert result.selected == np.count_nonzero(met > expected) <= allowed
    assert result.rate_hz == pytest.approx(result.selected / met.size * 100_000)
    assert result.max_rate_hz == pytest.approx(np.count_nonzero(met > 20) / met.size * 100_000)
    ge = calibrate_threshold(menu, path="Other", model="ae", target_rate_hz=500.0, input_rate_hz=100_000.0,
                             batches=batches, scorers={"ae": MetScorer()})
    assert ge.op == ">=" and np.count_nonzero((met >= np.float32(ge.threshold)) & (met > 50)) == ge.selected


def test_unreachable_targets_say_why(batches):
    menu = load_menu(MENU)
    with pytest.raises(ConfigError, match="reaches at most .* below the target 90000 Hz"):
        calibrate_threshold(menu, path="AE", model=None, target_rate_hz=90_000, input_rate_hz=100_000,
                            batches=batches, scorers={"ae": MetScorer()})
    with pytest.raises(ConfigError, match="need 0 < target rate <= input rate"):
        calibrate_threshold(menu, path="AE", model=None, target_rate_hz=0, input_rate_hz=100_000,
                            batches=batches, scorers={"ae": MetScorer()})
    with pytest.raises(MenuError, match="does not read score.other"):
        calibrate_threshold(menu, path="AE", model="other", target_rate_hz=10, input_rate_hz=100_000,
                            batches=batches, scorers={"ae": MetScorer()})


def test_cli_calibrates_the_real_model_and_rewrites_only_the_threshold(tmp_path, capsys):
    files = write_dataset(20_000, tmp_path / "data", config=GeneratorConfig(seed=13), formats=("ipc",))
    menu = tmp_path / "cal.yaml"
    menu.write_text(MENU)
    assert main(["menu", "calibrate", "--menu", str(menu), "--path", "AE", "--target-rate-hz", "1000",
                 "--input-rate-hz", "100000", str(files[0])]) == 0
    assert "path AE: score.ae > " in capsys.readouterr().out
    new = menu.read_text()
    changed = [(a, b) for a, b in zip(MENU.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0].strip().startswith('- "score.ae >')
    engine, _ = load_engine(str(menu))
    counts = sum(engine.process(b, batch_id=str(i)).path_counts
                 for i, b in enumerate(generate_batches(20_000, config=GeneratorConfig(seed=13))))
    assert 190 <= counts[0] <= 200  # 1 kHz of 100 kHz = 1% of 20,000 events, never above
