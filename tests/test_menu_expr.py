"""Tests of the whitelisted cut-expression compiler (trigger.menu.expr)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from trigger.errors import MenuError
from trigger.features.frame import FeatureFrame
from trigger.menu.expr import MAX_DEPTH, MAX_LENGTH, compile_expression
from trigger.schema import event_schema

NAN = float("nan")
# (pt, eta, phi, mass, charge, iso) and (pt, eta, phi, mass, btag)
EVENTS = [
    {"muons": [(30, 0.5, 0, 0.1, 1, 0.05), (25, -2.6, 1, 0.1, -1, 0.3)],
     "jets": [(300, 0, 0, 10, 0.9), (250, 1, 0, 10, 0.1), (100, 3, 0, 5, 0.6)], "met": 50},
    {"muons": [(22, 1.0, 0, 0.1, -1, 0.1)], "met": 150},
    {"jets": [(600, 0, 0, 10, 0.2), (500, -1, 0, 10, 0.3)], "met": 0},
    {"muons": [(50, 2.0, 0, 0.1, 1, 0.01), (40, -1.0, 0, 0.1, -1, 0.02), (10, 0.1, 0, 0.1, 1, 0.5)],
     "jets": [(40, 0, 0, 5, 0.95)], "met": 120},
    {"met": NAN},
]
HT = np.array([650.0, 0.0, 1100.0, 40.0, 0.0])
MET = np.array([50.0, 150.0, 0.0, 120.0, NAN])
DIMUON_MASS = np.array([91.0, NAN, NAN, 119.9, NAN])
DIMUON_OS = np.array([True, False, False, True, False])

REGISTRY = {
    "met": lambda f: f.column("met_pt").astype(np.float64),
    "ht": lambda f: HT[: f.n_events],
    "dimuon_mass": lambda f: DIMUON_MASS[: f.n_events],
    "dimuon_os": lambda f: DIMUON_OS[: f.n_events],
    "n_muons": lambda f: f.collection("muons").counts,
}
PARTICLE_FIELDS = ("pt", "eta", "phi", "mass", "charge", "iso")
JET_FIELDS = ("pt", "eta", "phi", "mass", "btag")


def make_batch(events: list[dict]) -> pa.RecordBatch:
    """An event batch following trigger.schema from compact per-event dicts."""
    rows = []
    for i, ev in enumerate(events):
        row = {"run": 1, "luminosity_block": 1, "event": i + 1, "timestamp_ns": 0,
               "met_pt": ev.get("met", 0.0), "met_phi": 0.0}
        for coll in ("muons", "electrons", "photons"):
            row[coll] = [dict(zip(PARTICLE_FIELDS, o)) for o in ev.get(coll, [])]
        row["jets"] = [dict(zip(JET_FIELDS, o)) for o in ev.get("jets", [])]
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=event_schema())


@pytest.fixture()
def frame() -> FeatureFrame:
    return FeatureFrame(make_batch(EVENTS), registry=REGISTRY)


def run(expr: str, frame: FeatureFrame) -> np.ndarray:
    return compile_expression(expr, registry=REGISTRY)(frame)


def refused(expr: str, match: str, position: int | None) -> MenuError:
    with pytest.raises(MenuError, match=match) as info:
        compile_expression(expr, registry=REGISTRY, path="HLT_Test")
    assert info.value.position == position
    assert info.value.path == "HLT_Test" and "in path 'HLT_Test'" in str(info.value)
    if position is not None:  # the caret sits under the offending column
        lines = str(info.value).splitlines()
        assert lines[-1].index("^") - 4 == position and lines[-2].strip() == info.value.expression
    return info.value


@pytest.mark.parametrize(("expr", "expected"), [
    ("met > 100", MET > 100),
    ("met >= 120", MET >= 120),
    ("met < 50", MET < 50),
    ("met <= 50", MET <= 50),
    ("met == 0", MET == 0),
    ("met != 0", [True, True, False, True, True]),  # NaN != 0 is True, as in numpy
    ("60 < dimuon_mass < 120", [True, False, False, True, False]),
    ("60 < dimuon_mass <= 119.8", [True, False, False, False, False]),
    ("met > 100 and ht > 10", [False, False, False, True, False]),
    ("met > 100 or ht > 1000", [False, True, True, True, False]),
    ("not met > 100", [True, False, True, False, True]),  # NaN > 100 is False, so not -> True
    ("met / 2 + 10 > 70", [False, True, False, False, False]),
    ("-met < -100", [False, True, False, True, False]),
    ("met * 2 >= 240", [False, True, False, True, False]),
    ("met - 20 == 30", [True, False, False, False, False]),
    ("met / ht > 1", [False, True, False, True, False]),  # 150/0 = inf
    ("sqrt(met) > 10", [False, True, False, True, False]),
    ("abs(-met) == met", [True, True, True, True, False]),
    ("max(met, ht) > 500", [True, False, True, False, False]),
    ("min(met, 100) == 100", [False, True, False, True, False]),
    ("dimuon_os", DIMUON_OS),
    ("not dimuon_os", ~DIMUON_OS),
    ("dimuon_mass", [True, False, False, True, False]),  # as a condition: != 0, NaN False
    ("met", [True, True, False, True, False]),
    ("dimuon_os * 2 + 1 == 3", DIMUON_OS),  # a bool feature is 0/1 in arithmetic
    ("True", [True] * 5),
    ("False or met > 100", MET > 100),
    ("n_muons >= 2", [True, False, False, True, False]),  # the registered feature
    ("n_muons() == 2", [True, False, False, False, False]),  # the object count
])
def test_event_level_constructs(expr: str, expected: list[bool], frame: FeatureFrame) -> None:
    got = run(expr, frame)
    assert got.dtype == bool and got.shape == (5,)
    np.testing.assert_array_equal(got, np.asarray(expected, dtype=bool))


def reference_count(events: list[dict], coll: str, pred) -> np.ndarray:
    """Per-event Python reference for n_<coll>(pred)."""
    names = JET_FIELDS if coll == "jets" else PARTICLE_FIELDS
    return np.array([sum(bool(pred(dict(zip(names, o)))) for o in ev.get(coll, [])) for ev in events])


@pytest.mark.parametrize(("expr", "coll", "pred"), [
    ("pt > 20 and abs(eta) < 2.4", "muons", lambda o: o["pt"] > 20 and abs(o["eta"]) < 2.4),
    ("charge < 0", "muons", lambda o: o["charge"] < 0),
    ("pt * (1 - iso) > 20", "muons", lambda o: o["pt"] * (1 - o["iso"]) > 20),
    ("20 < pt <= 40 or iso > 0.2", "muons", lambda o: 20 < o["pt"] <= 40 or o["iso"] > 0.2),
    ("max(pt, 45) == pt", "muons", lambda o: o["pt"] >= 45),
    ("charge", "muons", lambda o: o["charge"] != 0),
    ("btag > 0.5 and not abs(eta) > 2.5", "jets", lambda o: o["btag"] > 0.5 and not abs(o["eta"]) > 2.5),
    ("True", "jets", lambda o: True),
    ("False", "jets", lambda o: False),
])
def test_object_counts_match_reference(expr: str, coll: str, pred, frame: FeatureFrame) -> None:
    ref = reference_count(EVENTS, coll, pred)
    for k in range(4):  # n_x(pred) == k for each k reproduces the per-event count
        got = run(f"n_{coll}({expr}) == {k}", frame)
        np.testing.assert_array_equal(got, ref == k, err_msg=f"{expr} == {k}")
    np.testing.assert_array_equal(run(f"any_{coll}({expr})", frame), ref > 0)


def test_empty_call_counts_all(frame: FeatureFrame) -> None:
    np.testing.assert_array_equal(run("n_muons() == 3", frame), [False, False, False, True, False])
    np.testing.assert_array_equal(run("n_electrons() == 0", frame), [True] * 5)
    np.testing.assert_array_equal(run("any_jets()", frame), [True, False, True, True, False])


def test_names_models_and_scores(frame: FeatureFrame) -> None:
    expr = compile_expression("met > 100 or score.axo > 0.8 and n_jets(pt > 200) >= 1 and score.cicada < 1",
                              registry=REGISTRY)
    assert expr.models == {"axo", "cicada"}
    assert expr.features == {"met"}
    assert expr.collections == {"jets"}
    frame.set_score("axo", np.array([0.9, 0.1, 0.95, NAN, 0.99]))
    frame.set_score("cicada", np.array([0.5, 0.5, 2.0, 0.5, 0.5]))
    np.testing.assert_array_equal(expr(frame), [True, True, False, True, False])


def test_nan_and_division_do_not_warn(frame: FeatureFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        over_zero = run("met / (ht - ht) > 0", frame)  # x/0 = inf, 0/0 = NaN
        sqrt_neg = run("sqrt(-met) >= 0 or sqrt(-met) < 0", frame)  # NaN compares False
    np.testing.assert_array_equal(over_zero, [True, True, False, True, False])
    np.testing.assert_array_equal(sqrt_neg, [False, False, True, False, False])  # sqrt(-0.0) = -0.0


def test_batch_slices_agree(frame: FeatureFrame) -> None:
    expr = compile_expression("n_muons(pt > 20 and abs(eta) < 2.4) >= 1 or any_jets(btag > 0.9)",
                              registry=REGISTRY)
    whole = expr(frame)
    part = expr(FeatureFrame(make_batch(EVENTS).slice(1, 3), registry=REGISTRY))
    np.testing.assert_array_equal(part, whole[1:4])


def test_whitespace_and_newlines_are_normalized(frame: FeatureFrame) -> None:
    expr = compile_expression("  met > 100\n   and\tht > 10\n", registry=REGISTRY)
    assert expr.source == "met > 100 and ht > 10"
    np.testing.assert_array_equal(expr(frame), [False, False, False, True, False])


@pytest.mark.parametrize(("expr", "match", "position"), [
    ("__import__('os').system('echo hi')", r"'__import__': names starting with '__'", 0),
    ("met > 1 or ().__class__", r"'__class__': names starting with '__'", 11),
    ("score.__class__", r"'__class__': names starting with '__'", 0),
    ("lambda: 1", "lambda functions are not allowed", 0),
    ("met > 1 and (lambda: 1)", "lambda functions are not allowed", 13),
    ("[x for x in y]", "comprehensions are not allowed", 0),
    ('"a" == "a"', "string literals are not allowed", 0),
    ("met == b'x'", "bytes literals are not allowed", 7),
    ("met == None", "None literals are not allowed", 7),
    ("(x := 1)", r"assignment expressions \(:=\) are not allowed", 1),
    ("open('f')", "unknown function 'open'", 0),
    ("getattr(score, 'x')", "unknown function 'getattr'", 0),
    ("met > 1 and score.axo.real > 1", r"attribute access is only allowed as score.<model>", 12),
    ("met.real > 1", r"attribute access is only allowed as score.<model>", 0),
    ("met[0] > 1", r"subscripts", 0),
    ("abs(x=met) > 1", "takes no keyword arguments", 4),
    ("max(*met) > 1", "starred arguments", 4),
    ('f"{met}" == 1', "f-strings are not allowed", 0),
    ("met > 1 if ht else 0", "conditional expressions", 0),
    ("met > > 1", "syntax error", 6),
    ("met > 1 and", "syntax error: .*ends too early", 11),
    ("(met > 1", "syntax error: '\\(' was never closed", 0),
    ("met > 1 # comment", "comments are not allowed", 8),
    ("score > 1", r"`score` needs a model name", 0),
    ("pt > 20", "'pt' is an object field", 0),
    ("met > 1 and n_muons(met > 20) > 0", "'met' is event-level and cannot be used inside n_muons", 20),
    ("n_jets(iso < 1) > 0", "unknown field 'iso' of jets", 7),
    ("n_muons(score.axo > 1) > 0", "model scores are event-level", 8),
    ("n_muons(n_jets() > 1) > 0", r"n_jets\(...\) cannot be nested", 8),
    ("n_muons(pt > 1, eta < 1) > 0", "takes one predicate", 16),
    ("abs(met, ht) > 1", r"abs\(\) takes 1 argument\(s\), got 2", 0),
    ("met + 1 and ht > 0", "expected a condition", 0),
    ("met + 1", "expected a condition", 0),
    ("n_muons(pt > 1)", "expected a condition", 0),
    ("(met > 1) + 1 > 0", "expected a number, found a condition", 1),
    ("True < 2", "expected a number, found a condition", 0),
    ("~met", "unary operators", 0),
    ("met ** 2 > 1", "operator not allowed", 0),
    ("met in ht", "only the comparisons", 7),
    ("abs > 1", "'abs' is a function", 0),
    ("n_taus(pt > 1) > 0", "unknown function 'n_taus'", 0),
    ("met > 1 and é > 2", "unknown name 'é'", 12),  # caret in characters, not UTF-8 bytes
    ("", "empty expression", None),
])
def test_refused_with_message_and_position(expr: str, match: str, position: int | None) -> None:
    refused(expr, match, position)


def test_typo_suggestions() -> None:
    err = refused("met > 1 and dimuon_mas > 60", "unknown name 'dimuon_mas'", 12)
    assert err.suggestions[0] == "dimuon_mass"
    assert "did you mean 'dimuon_mass'" in str(err)
    err = refused("n_muon(pt > 20) >= 1", "unknown function 'n_muon'", 0)
    assert "n_muons" in err.suggestions
    err = refused("n_muons(ptt > 20) >= 1", "unknown field 'ptt' of muons", 8)
    assert err.suggestions[0] == "pt"


def test_limits_are_enforced_and_named() -> None:
    long = " and ".join(["met > 1"] * 200)
    assert len(long) > MAX_LENGTH
    refused(long, f"the limit is {MAX_LENGTH}", None)
    with pytest.raises(MenuError, match=f"nested deeper than {MAX_DEPTH} levels"):
        compile_expression("-" * (MAX_DEPTH + 5) + "met > 1", registry=REGISTRY)
    compile_expression("-" * (MAX_DEPTH - 5) + "met > 1", registry=REGISTRY)  # within the limit


def test_non_string_is_refused() -> None:
    with pytest.raises(MenuError, match="expected an expression string, found bool"):
        compile_expression(True, registry=REGISTRY)  # type: ignore[arg-type]


def test_default_registry_is_looked_up_lazily() -> None:
    from trigger.features.registry import FEATURES

    if "met" not in FEATURES:
        pytest.skip("feature 'met' is not registered yet")
    assert compile_expression("met > 100").features == {"met"}


def test_no_eval_or_exec_in_menu_sources() -> None:
    root = Path(__file__).resolve().parents[1] / "trigger" / "menu"
    pattern = re.compile(r"(?<![\w.])(eval|exec|compile)\s*\(|__import__|importlib\.import_module")
    for source in root.glob("*.py"):
        hits = [m.group(0) for m in pattern.finditer(source.read_text())]
        assert not hits, f"{source.name} calls {hits}"
