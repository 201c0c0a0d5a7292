"""Tests of menu loading, validation, YAML round trip and the compiled plan (trigger.menu)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from trigger.errors import ConfigError, MenuError
from trigger.features.frame import FeatureFrame
from trigger.menu import (
    Menu,
    PathConfig,
    compile_menu,
    default_menu_path,
    load_menu,
    path_salt,
    prescale_mask,
)
from trigger.schema import event_schema

PARTICLE_FIELDS = ("pt", "eta", "phi", "mass", "charge", "iso")
JET_FIELDS = ("pt", "eta", "phi", "mass", "btag")


def make_batch(events: list[dict]) -> pa.RecordBatch:
    """An event batch following trigger.schema; event numbers 1..n in run 1, lumi 1."""
    rows = []
    for i, ev in enumerate(events):
        row = {"run": 1, "luminosity_block": 1, "event": ev.get("event", i + 1), "timestamp_ns": 0,
               "met_pt": ev.get("met", 0.0), "met_phi": 0.0}
        for coll in ("muons", "electrons", "photons"):
            row[coll] = [dict(zip(PARTICLE_FIELDS, o)) for o in ev.get(coll, [])]
        row["jets"] = [dict(zip(JET_FIELDS, o)) for o in ev.get("jets", [])]
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=event_schema())


REGISTRY = {
    "met": lambda f: f.column("met_pt").astype(np.float64),
    "n_jets": lambda f: f.collection("jets").counts,
}

SMALL = textwrap.dedent("""\
    menu: small-v3
    version: 3
    streams:
      Muon: {dataset: SingleMuon}
      JetMET: {}
      Anomaly: {}
    paths:
      - name: HLT_Mu20
        seed: n_muons(pt > 10) >= 1
        cut: n_muons(pt > 20) >= 1
        stream: Muon
      - name: HLT_MET100_Jets
        cut:
          - met > 100
          - n_jets >= 1
        prescale: 1
        stream: JetMET
      - name: HLT_Anomaly
        seed: met > 50
        cut: score.axo > 0.5
        stream: Anomaly
      - name: HLT_Disabled
        cut: score.axo > 0.1
        prescale: 0
        stream: Anomaly
      - name: HLT_Prescaled
        prescale: 3
        stream: JetMET
    """)

EVENTS = [
    {"muons": [(25, 0, 0, 0.1, 1, 0.0)], "met": 60},
    {"muons": [(15, 0, 0, 0.1, 1, 0.0)], "jets": [(50, 0, 0, 5, 0.1)], "met": 150},
    {"met": 120},
    {"jets": [(50, 0, 0, 5, 0.1)], "met": 20},
]


@pytest.fixture()
def small() -> Menu:
    return load_menu(SMALL)


def test_load_small_menu(small: Menu) -> None:
    assert (small.name, small.version) == ("small-v3", 3)
    assert list(small.streams) == ["Muon", "JetMET", "Anomaly"]
    assert small.streams["Muon"] == {"dataset": "SingleMuon"}
    assert small.paths[0] == PathConfig("HLT_Mu20", "n_muons(pt > 10) >= 1", ("n_muons(pt > 20) >= 1",), 1, "Muon")
    assert small.paths[1].cuts == ("met > 100", "n_jets >= 1") and small.paths[1].seed is None
    assert small.paths[4] == PathConfig("HLT_Prescaled", None, (), 3, "JetMET")


def test_yaml_round_trip_is_faithful(small: Menu) -> None:
    text = small.to_yaml()
    again = load_menu(text)
    assert again == small
    assert again.to_yaml() == text  # stable: a second dump changes nothing
    # Path order and key order as written: calibration rewrites diff cleanly.
    assert [ln.split(": ")[1] for ln in text.splitlines() if ln.startswith("- name:")] == [
        p.name for p in small.paths]
    first = text[text.index("- name: HLT_Mu20"):].splitlines()[:5]
    assert [ln.strip(" -").split(":")[0] for ln in first] == ["name", "seed", "cut", "prescale", "stream"]


def test_round_trip_keeps_expression_characters() -> None:
    menu = Menu("m", 1, (PathConfig("P", "met > 1: 2 # not a comment", ("a: b", "'q' - \"x\""), 2, "S"),), {})
    assert load_menu(menu.to_yaml()) == menu


def test_load_from_path_and_str_path(tmp_path: Path, small: Menu) -> None:
    file = tmp_path / "menu.yaml"
    file.write_text(SMALL)
    assert load_menu(file) == small
    assert load_menu(str(file)) == small
    assert load_menu(file).source == str(file)


def test_default_menu_loads() -> None:
    path = default_menu_path()
    assert path.name == "default.yaml" and path.is_file()
    menu = load_menu(path)
    names = [p.name for p in menu.paths]
    assert {"HLT_IsoMu24", "HLT_Mu50", "HLT_PFHT1050", "HLT_PFMET120", "HLT_ZeroBias"} <= set(names)
    assert list(menu.streams) == ["Muon", "EGamma", "JetMET", "ZeroBias"]
    zero_bias = menu.paths[names.index("HLT_ZeroBias")]
    assert (zero_bias.prescale, zero_bias.cuts, zero_bias.seed, zero_bias.stream) == (1000, (), None, "ZeroBias")
    assert load_menu(menu.to_yaml()) == menu


DEFAULT_FEATURES = {"dimuon_os", "dimuon_mass", "dielectron_mass", "ht", "met"}


def test_default_menu_compiles_and_decides_against_real_registry() -> None:
    from trigger.features.registry import FEATURES

    missing = DEFAULT_FEATURES - set(FEATURES)
    if missing:
        pytest.skip(f"features not registered yet: {sorted(missing)}")
    compiled = compile_menu(load_menu(default_menu_path()))
    assert compiled.features == DEFAULT_FEATURES
    assert compiled.models == frozenset()
    events = [
        {"muons": [(30, 0.3, 0, 0.1, 1, 0.05)]},  # isolated muon
        {"muons": [(45, 0.0, 0.0, 0.1, 1, 0.5), (40, 0.0, np.pi, 0.1, -1, 0.5)]},  # Z: m = 84.9
        {"muons": [(45, 0.0, 0.0, 0.1, 1, 0.5), (40, 0.0, np.pi, 0.1, 1, 0.5)]},  # same sign
        {"jets": [(600, 0, 0, 10, 0.1), (500, 1, 1, 10, 0.1)], "met": 130},
        {},
    ]
    frame = FeatureFrame(make_batch(events))
    got = compiled.evaluate(frame, apply_prescale=False)
    col = {n: got[:, i] for i, n in enumerate(compiled.path_names)}
    np.testing.assert_array_equal(col["HLT_IsoMu24"], [True, False, False, False, False])
    np.testing.assert_array_equal(col["HLT_DoubleMu_Zmass"], [False, True, False, False, False])
    np.testing.assert_array_equal(col["HLT_PFHT1050"], [False, False, False, True, False])
    np.testing.assert_array_equal(col["HLT_PFMET120"], [False, False, False, True, False])
    np.testing.assert_array_equal(col["HLT_ZeroBias"], [True] * 5)  # before its prescale


def test_compiled_plan_shape_and_metadata(small: Menu) -> None:
    compiled = compile_menu(small, registry=REGISTRY)
    assert compiled.path_names == ("HLT_Mu20", "HLT_MET100_Jets", "HLT_Anomaly", "HLT_Disabled", "HLT_Prescaled")
    assert compiled.column_names[0] == "pass_HLT_Mu20"
    assert compiled.streams == {"Muon": [0], "JetMET": [1, 4], "Anomaly": [2, 3]}
    assert compiled.models == {"axo"}
    assert compiled.features == {"met", "n_jets"}


def test_evaluate_is_seed_and_cuts_and_prescale(small: Menu) -> None:
    compiled = compile_menu(small, registry=REGISTRY)
    frame = FeatureFrame(make_batch(EVENTS), registry=REGISTRY)
    frame.set_score("axo", np.array([0.9, 0.2, 0.9, 0.9]))
    raw = compiled.evaluate(frame, apply_prescale=False)
    assert raw.shape == (4, 5) and raw.dtype == bool
    np.testing.assert_array_equal(raw[:, 0], [True, False, False, False])  # seed passes ev 1, cut not
    np.testing.assert_array_equal(raw[:, 1], [False, True, False, False])  # both cuts ANDed
    np.testing.assert_array_equal(raw[:, 2], [True, False, True, False])  # seed met > 50 gates ev 3
    np.testing.assert_array_equal(raw[:, 3], [True, True, True, True])  # prescale not applied
    np.testing.assert_array_equal(raw[:, 4], [True] * 4)
    kept = compiled.evaluate(frame)
    assert not kept[:, 3].any()  # prescale 0 disables
    ids = [frame.column(c) for c in ("run", "luminosity_block", "event")]
    np.testing.assert_array_equal(kept[:, 4], prescale_mask(*ids, prescale=3, salt=path_salt("HLT_Prescaled")))
    np.testing.assert_array_equal(kept[:, :3], raw[:, :3])


def test_evaluate_is_independent_of_batching(small: Menu) -> None:
    compiled = compile_menu(small, registry=REGISTRY)
    events = [dict(EVENTS[i % 4], event=1000 + 7 * i) for i in range(60)]
    batch = make_batch(events)
    scores = np.linspace(0, 1, 60)

    def decide(b: pa.RecordBatch, s: np.ndarray) -> np.ndarray:
        frame = FeatureFrame(b, registry=REGISTRY)
        frame.set_score("axo", s)
        return compiled.evaluate(frame)

    whole = decide(batch, scores)
    parts = np.vstack([decide(batch.slice(a, 13), scores[a:a + 13]) for a in range(0, 60, 13)])
    np.testing.assert_array_equal(parts, whole)
    assert 0 < whole[:, 4].sum() < 60  # the prescale did something


def test_model_rows(small: Menu) -> None:
    compiled = compile_menu(small, registry=REGISTRY)
    frame = FeatureFrame(make_batch(EVENTS), registry=REGISTRY)
    # HLT_Anomaly (seed met > 50) and HLT_Disabled (no seed, prescale 0) use axo.
    np.testing.assert_array_equal(compiled.model_rows(frame, "axo"), [True, True, True, False])
    np.testing.assert_array_equal(compiled.model_rows(frame, "axo", apply_prescale=False), [True] * 4)
    np.testing.assert_array_equal(compiled.seed_mask(frame)[:, 2], [True, True, True, False])
    with pytest.raises(MenuError, match="uses no model 'axe'") as info:
        compiled.model_rows(frame, "axe")
    assert info.value.suggestions == ("axo",)


def test_nan_scores_fail_thresholds(small: Menu) -> None:
    compiled = compile_menu(small, registry=REGISTRY)
    frame = FeatureFrame(make_batch(EVENTS), registry=REGISTRY)
    # Events 1 and 2 pass the seed, but the model "did not run" there (NaN): the cut fails.
    frame.set_score("axo", np.array([0.9, np.nan, np.nan, np.nan]))
    np.testing.assert_array_equal(compiled.evaluate(frame)[:, 2], [True, False, False, False])


def menu_text(path_yaml: str, *, streams: str = "streams: {Muon: {}, JetMET: {}}") -> str:
    return f"menu: t\nversion: 1\n{streams}\npaths:\n{textwrap.indent(textwrap.dedent(path_yaml), '  ')}"


@pytest.mark.parametrize(("paths", "match"), [
    ("- {name: A, cut: met > 1, stream: Muon}\n- {name: A, stream: Muon}",
     r"in path 'A': menu .*bad.yaml, line 6: duplicate path name 'A' \(paths\[1\]\)"),
    ("- {cut: met > 1, stream: Muon}", r"line 5: paths\[0\] has no 'name'"),
    ("- {name: A, prescal: 2, stream: Muon}",
     r"unknown key 'prescal' in path 'A'; valid keys: name, seed, cut, prescale, stream; closest: 'prescale'"),
    ("- {name: A, prescale: -1, stream: Muon}", r"prescale must be an integer >= 0 .*found -1"),
    ("- {name: A, prescale: 1.5, stream: Muon}", r"prescale must be an integer >= 0 .*found 1.5"),
    ("- {name: A, prescale: '10', stream: Muon}", r"prescale must be an integer >= 0 .*found '10'"),
    ("- {name: A, prescale: true, stream: Muon}", r"prescale must be an integer >= 0 .*found True"),
    ("- {name: A, stream: Muom}", r"stream 'Muom' is not declared in 'streams' \(Muon, JetMET\); closest: 'Muon'"),
    ("- {name: A}", r"in path 'A': .*missing key 'stream'; declared streams: Muon, JetMET"),
    ("- {name: HLT-A, stream: Muon}", r"name 'HLT-A' must be an identifier"),
    ("- {name: A, seed: yes, stream: Muon}", r"seed must be a non-empty string, found bool True"),
    ("- {name: A, cut: [met > 1, 3], stream: Muon}", r"cut\[1\] must be a non-empty string, found int 3"),
    ("- just-a-string", r"paths\[0\] must be a mapping"),
    ("- {nmae: A, stream: Muon}", r"unknown key 'nmae' in paths\[0\]; .*closest: 'name'"),
])
def test_validation_errors(tmp_path: Path, paths: str, match: str) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(menu_text(paths))
    with pytest.raises(MenuError, match=match) as info:
        load_menu(file)
    assert "bad.yaml" in str(info.value)


@pytest.mark.parametrize(("text", "match"), [
    ("menu: t\npath: []\n", r"unknown key 'path' in the menu; valid keys: menu, version, streams, models, paths; closest: 'paths'"),
    ("menu: t\npaths: []\n", r"'paths' must be a non-empty list"),
    ("version: 1\npaths: [{name: A, stream: S}]\n", r"'menu' \(the menu name\) must be a non-empty string"),
    ("menu: t\nversion: v1\npaths: [{name: A, stream: S}]\n", r"version must be an integer, found 'v1'"),
    ("menu: t\nstreams: 3\npaths: [{name: A, stream: S}]\n", r"streams must be a mapping"),
    ("- a\n- b\n", r"expected a mapping with keys menu, version, streams, models, paths, found list"),
])
def test_top_level_validation(text: str, match: str) -> None:
    with pytest.raises(MenuError, match=match):
        load_menu(text)


def test_undeclared_streams_accept_any_stream() -> None:
    menu = load_menu("menu: t\npaths:\n  - {name: A, stream: Whatever}\n")
    assert menu.streams == {} and compile_menu(menu, registry=REGISTRY).streams == {"Whatever": [0]}


def test_streams_as_a_list() -> None:
    menu = load_menu("menu: t\nstreams: [A, B]\npaths:\n  - {name: P, stream: B}\n")
    assert menu.streams == {"A": {}, "B": {}}
    assert compile_menu(menu, registry=REGISTRY).streams == {"A": [], "B": [0]}


def test_yaml_and_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"duplicate key 'cut' \(the mapping starts at line 3\)"):
        load_menu("menu: t\npaths:\n  - name: A\n    cut: met > 1\n    cut: met > 2\n    stream: S\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_menu("menu: t\npaths: [\n")
    with pytest.raises(ConfigError, match=r"cannot read menu file .*missing.yaml"):
        load_menu(tmp_path / "missing.yaml")
    with pytest.raises(MenuError, match="if this is a file name, no such file exists"):
        load_menu("no-such-menu")


def test_compile_errors_name_file_path_and_position(tmp_path: Path) -> None:
    file = tmp_path / "typo.yaml"
    file.write_text(menu_text("- {name: A, cut: [met > 1, n_jet >= 2], stream: Muon}"))
    with pytest.raises(MenuError, match=r"in path 'A': menu .*typo.yaml, cut\[1\]: unknown name 'n_jet'") as info:
        compile_menu(load_menu(file), registry=REGISTRY)
    assert info.value.position == 0 and info.value.suggestions[0] == "n_jets"
    with pytest.raises(MenuError, match="seed reads score.axo: seeds decide where models run"):
        compile_menu(load_menu(menu_text("- {name: A, seed: score.axo > 1, stream: Muon}")), registry=REGISTRY)


def test_cuts_on_the_seed_subset_match_cuts_on_every_event():
    """Evaluating cuts only on seed-passing events must not change any decision."""
    import numpy as np

    import trigger.menu.plan as plan
    from trigger.features.frame import FeatureFrame
    from trigger.io.generator import GeneratorConfig, generate_batches
    from trigger.menu import compile_menu, default_menu_path, load_menu

    menu = compile_menu(load_menu(default_menu_path()))
    batch = next(generate_batches(30_000, config=GeneratorConfig(seed=9), batch_size=30_000))
    subset = menu.evaluate(FeatureFrame(batch))
    saved = plan.SUBSET_MAX_FRACTION
    try:
        plan.SUBSET_MAX_FRACTION = 0.0  # never subset: every cut on every event
        full = menu.evaluate(FeatureFrame(batch))
    finally:
        plan.SUBSET_MAX_FRACTION = saved
    assert np.array_equal(subset, full) and full.any()


def test_score_only_cuts_run_on_the_whole_batch_and_keep_the_subset_small(monkeypatch):
    """A cut reading only a model score needs no subset; its seed must not enlarge the subset."""
    import numpy as np

    from trigger.features.frame import FeatureFrame
    from trigger.io.generator import GeneratorConfig, generate_batches
    from trigger.menu import compile_menu, load_menu

    menu = compile_menu(load_menu(menu_text(
        "- {name: Mu, seed: n_muons(pt > 20) >= 1, cut: n_muons(pt > 24) >= 1, stream: Muon}\n"
        "- {name: AD, seed: met > 20, cut: score.axo > 0.5, stream: Muon}")), registry=REGISTRY)
    batch = next(generate_batches(20_000, config=GeneratorConfig(seed=4), batch_size=20_000))
    frame = FeatureFrame(batch)
    score = np.where(np.arange(batch.num_rows) % 3 == 0, np.float32(1.0), np.float32(np.nan))
    frame.set_score("axo", score)
    subsets = []
    real_subset = FeatureFrame.subset
    monkeypatch.setattr(FeatureFrame, "subset", lambda self, rows: subsets.append(int(rows.sum())) or real_subset(self, rows))
    bits = menu.evaluate(frame)
    mu_seed = menu.paths[0].seed(frame)
    assert subsets == [int(mu_seed.sum())]  # the Mu seed survivors only, not the AD seed's
    met_seed = menu.paths[1].seed(frame)
    np.testing.assert_array_equal(bits[:, 1], met_seed & (score > 0.5))
    assert bits[:, 1].any() and bits[:, 0].any()
