"""Tests of the menu's models section and of model paths in the engine (load_engine)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from trigger.cli.replay import load_engine
from trigger.engine import Engine
from trigger.engine.load import check_engine
from trigger.errors import MenuError, ModelError
from trigger.inference import load_scorers, package_models_dir, sha256_file
from trigger.io.generator import GeneratorConfig, ProcessMix, generate_batches
from trigger.menu import compile_menu, default_menu_path, load_menu

ANOMALY_MENU = default_menu_path().with_name("anomaly.yaml")
AE_SHA = sha256_file(package_models_dir() / "anomaly_ae.onnx")


def menu_text(models: str, cut: str = "score.ae > 3.0", seed: str = "met > 30") -> str:
    return textwrap.dedent(f"""\
        menu: m
        streams: {{S: {{}}}}
        models:
        {textwrap.indent(textwrap.dedent(models), '  ')}
        paths:
          - {{name: AE, seed: "{seed}", cut: "{cut}", stream: S}}
          - {{name: MET, cut: "met > 80", stream: S}}
        """)


GOOD = f"ae: {{file: anomaly_ae.onnx, sha256: {AE_SHA}, providers: [cpu], batch_size: 4096, threads: 1}}"


def test_models_section_is_read_and_round_trips():
    menu = load_menu(menu_text(GOOD))
    spec = menu.models["ae"]
    assert (spec.file, spec.sha256, spec.providers, spec.batch_size, spec.threads) == (
        "anomaly_ae.onnx", AE_SHA, ("cpu",), 4096, 1)
    again = load_menu(menu.to_yaml())
    assert again == menu and again.models == menu.models


@pytest.mark.parametrize(("models", "message"), [
    ("ae: {file: a.onnx, sha256: abc}", "needs 'sha256': the 64 hex digits"),
    (f"ae: {{sha256: {AE_SHA}}}", "needs 'file'"),
    (f"ae: {{file: a.onnx, sha256: {AE_SHA}, provider: [cpu]}}", "unknown key 'provider'.*closest: 'providers'"),
    (f"ae: {{file: a.onnx, sha256: {AE_SHA}, providers: [gpu]}}", "unknown execution provider 'gpu'"),
    (f"ae: {{file: a.onnx, sha256: {AE_SHA}, batch_size: 0}}", "batch_size must be an integer >= 1"),
    (f"ae: {{file: a.onnx, sha256: {AE_SHA}, kind: regression}}", "kind must be one of anomaly, classifier"),
    (f"1ae: {{file: a.onnx, sha256: {AE_SHA}}}", "must be an identifier"),
])
def test_bad_model_entries_name_the_menu_line_and_the_problem(models, message):
    with pytest.raises(MenuError, match=rf"menu <text>, line \d+: .*{message}"):
        load_menu(menu_text(models))


def test_a_score_the_models_section_does_not_declare_is_a_compile_error():
    with pytest.raises(MenuError, match=r"in path 'AE': .*reads score.aee but `models:` declares only ae.*'ae'"):
        compile_menu(load_menu(menu_text(GOOD, cut="score.aee > 3")))


def test_models_run_only_on_rows_passing_the_seed(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(menu_text(GOOD))
    engine, name = load_engine(str(path))
    assert name == "m" and set(engine.scorers) == {"ae"}
    seen = []

    class Spy:
        def score(self, frame, rows):
            seen.append(rows.copy())
            return engine.scorers["ae"].score(frame, rows)

    spied = Engine(engine.menu, scorers={"ae": Spy()})
    batch = next(generate_batches(5_000, config=GeneratorConfig(seed=4), batch_size=5_000))
    out = spied.process(batch, batch_id="0")
    met = batch.column("met_pt").to_numpy()
    np.testing.assert_array_equal(seen[0], met > 30)
    assert 0 < out.path_counts[0] < np.count_nonzero(met > 30)


def test_pinned_hash_mismatch_refuses_the_menu(tmp_path):
    shutil.copy(package_models_dir() / "anomaly_ae.onnx", tmp_path / "anomaly_ae.onnx")
    (tmp_path / "anomaly_ae.onnx").open("ab").write(b"\0")  # beside the menu: found first
    path = tmp_path / "m.yaml"
    path.write_text(menu_text(GOOD))
    with pytest.raises(ModelError, match=rf"file {tmp_path / 'anomaly_ae.onnx'} has sha256 [0-9a-f]{{64}}, "
                                         rf"but menu {path} pins {AE_SHA}"):
        load_engine(str(path))


def test_check_engine_refuses_a_wrong_pin_and_never_starts_onnxruntime(tmp_path):
    shutil.copy(package_models_dir() / "anomaly_ae.onnx", tmp_path / "anomaly_ae.onnx")
    (tmp_path / "anomaly_ae.onnx").open("ab").write(b"\0")
    bad = tmp_path / "m.yaml"
    bad.write_text(menu_text(GOOD))
    with pytest.raises(ModelError, match=rf"file {tmp_path / 'anomaly_ae.onnx'} has sha256 .* but menu {bad} pins"):
        check_engine(str(bad))
    # In a fresh interpreter (this one has onnxruntime loaded): the check loads no ONNX Runtime,
    # and gives the decision columns the built engine has.
    shipped = ANOMALY_MENU
    probe = ("import sys; from trigger.engine.load import check_engine; "
             f"names, menu = check_engine({str(shipped)!r}); "
             "print(menu, len(names), names[-1], 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    engine, name = load_engine(str(shipped))
    assert out == [name, str(len(engine.path_names)), engine.path_names[-1], "False"]


def test_a_menu_using_an_undeclared_model_does_not_load():
    menu = load_menu(textwrap.dedent("""\
        menu: m
        paths: [{name: A, cut: "score.x > 1", stream: S}]
        """))
    with pytest.raises(ModelError, match="reads score.x but declares no model 'x' under `models:`"):
        load_scorers(menu.models, used=compile_menu(menu).models)


def test_shipped_anomaly_menu_pins_the_shipped_models():
    menu = load_menu(ANOMALY_MENU)
    for name, spec in menu.models.items():
        assert sha256_file(package_models_dir() / spec.file) == spec.sha256, f"re-pin {name} in anomaly.yaml"
    assert {p.name for p in compile_menu(menu).paths if p.models} == {"HLT_Anomaly_AE", "HLT_TTbar_DeepSets"}
    default = {p.name for p in load_menu(default_menu_path()).paths}
    assert default <= {p.name for p in menu.paths}  # the default paths, plus the model paths


def test_anomaly_menu_decisions_do_not_depend_on_batch_size():
    engine, _ = load_engine(str(ANOMALY_MENU))
    mix = ProcessMix(multijet=0.5, zmumu=0.1, wenu=0.1, ttbar=0.2, exotic=0.1)  # enough model-path events
    config = GeneratorConfig(seed=8, mix=mix)
    whole = engine.process(next(generate_batches(8_000, config=config, batch_size=8_000)), batch_id="w")
    parts = [engine.process(b, batch_id=str(i))
             for i, b in enumerate(generate_batches(8_000, config=config, batch_size=1_237))]
    np.testing.assert_array_equal(whole.path_counts, sum(p.path_counts for p in parts))
    ae, top = engine.path_names.index("HLT_Anomaly_AE"), engine.path_names.index("HLT_TTbar_DeepSets")
    assert whole.path_counts[ae] > 50 and whole.path_counts[top] > 50
    ids = {s: whole.streams[s].column("event").to_pylist() for s in ("Anomaly", "Top")}
    for stream, events in ids.items():
        pieces = [p.streams[stream].column("event").to_pylist() for p in parts if stream in p.streams]
        assert events == [e for piece in pieces for e in piece]


def test_menu_check_loads_every_declared_model(capsys):
    from trigger.cli import main

    assert main(["menu", "check", "--menu", str(ANOMALY_MENU)]) == 0
    out = capsys.readouterr().out
    assert "model anomaly_ae:" in out and "model ttbar_deepsets:" in out and "used by: HLT_Anomaly_AE" in out
    assert out.rstrip().endswith("ok")
