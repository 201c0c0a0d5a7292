"""Tests of trigger.features: every feature and the L1 input against a per-event Python reference."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from trigger.errors import SchemaError
from trigger.features import (
    FEATURES,
    L1_INPUT_NAMES,
    FeatureFrame,
    invariant_mass,
    l1_input,
    object_matrix,
)
from trigger.schema import COLLECTIONS, EVENT_SCHEMA, HEADER, find_bad_events

# ---------------------------------------------------------------- random batches

_MASS_GEV = {"muons": 0.1057, "electrons": 0.000511, "photons": 0.0}
# Multiplicities: many empty and single-object events, some busy ones.
_COUNTS = np.array([0, 1, 2, 3, 4, 6, 9, 14])
_COUNT_P = np.array([0.3, 0.25, 0.15, 0.1, 0.08, 0.06, 0.04, 0.02])


def make_batch(n_events: int, *, seed: int, coarse: bool = False) -> pa.RecordBatch:
    """A valid random batch of the event model.

    ``coarse`` rounds pt to 5 GeV and eta to 0.5 so that ties (within and across
    collections) and values exactly on cut thresholds (pt 30, |eta| 2.5) occur.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {
        "run": pa.array(np.full(n_events, 1, np.uint32)),
        "luminosity_block": pa.array(np.arange(n_events, dtype=np.uint32) // 100),
        "event": pa.array(np.arange(n_events, dtype=np.uint64)),
        "timestamp_ns": pa.array(np.arange(n_events, dtype=np.int64)),
    }
    for name, struct in COLLECTIONS.items():
        counts = rng.choice(_COUNTS, size=n_events, p=_COUNT_P)
        total = int(counts.sum())
        event = np.repeat(np.arange(n_events), counts)
        pt = rng.exponential(40.0, total) + 2.0
        eta = rng.uniform(-3.0, 3.0, total)
        if coarse:
            pt = np.maximum(np.round(pt / 5.0) * 5.0, 5.0)
            eta = np.round(eta * 2.0) / 2.0
        order = np.lexsort((-pt, event))  # pt-sorted within each event
        values = {
            "pt": pt[order],
            "eta": eta[order],
            "phi": rng.uniform(-np.pi, np.pi, total),
            "mass": np.full(total, _MASS_GEV[name]) if name in _MASS_GEV else rng.uniform(0.0, 20.0, total),
            "charge": np.zeros(total) if name == "photons" else rng.choice([-1, 1], total),
            "iso": rng.uniform(0.0, 0.5, total),
            "btag": rng.uniform(0.0, 1.0, total),
        }
        struct_array = pa.StructArray.from_arrays(
            [pa.array(values[f.name].astype(f.type.to_pandas_dtype())) for f in struct], fields=list(struct)
        )
        offsets = np.zeros(n_events + 1, np.int32)
        np.cumsum(counts, out=offsets[1:])
        columns[name] = pa.ListArray.from_arrays(pa.array(offsets), struct_array)
    columns["met_pt"] = pa.array(rng.exponential(30.0, n_events).astype(np.float32))
    columns["met_phi"] = pa.array(rng.uniform(-np.pi, np.pi, n_events).astype(np.float32))
    batch = pa.RecordBatch.from_arrays([columns[f.name] for f in EVENT_SCHEMA], schema=EVENT_SCHEMA)
    assert find_bad_events(batch).n_bad == 0  # the generator itself is under test here
    return batch


@pytest.fixture(scope="module", params=[False, True], ids=["smooth", "coarse"])
def batch(request: pytest.FixtureRequest) -> pa.RecordBatch:
    return make_batch(1500, seed=7 + request.param, coarse=request.param)


# ---------------------------------------------------------------- per-event reference


def _get(objs: list[dict], k: int, field: str) -> float:
    return float(objs[k][field]) if len(objs) > k else 0.0


def _mass(objs: list[dict]) -> float:
    e = px = py = pz = 0.0
    for o in objs:
        p = (o["pt"] * math.cos(o["phi"]), o["pt"] * math.sin(o["phi"]), o["pt"] * math.sinh(o["eta"]))
        e += math.sqrt(sum(c * c for c in p) + o["mass"] ** 2)
        px, py, pz = px + p[0], py + p[1], pz + p[2]
    return math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0))


def _os(objs: list[dict]) -> float:
    return 1.0 if len(objs) >= 2 and objs[0]["charge"] * objs[1]["charge"] < 0 else 0.0


_LEADING_NAMES = (
    "mu1_pt mu1_eta mu1_phi mu2_pt mu2_eta mu1_iso e1_pt e1_eta e1_phi e2_pt e1_iso "
    "pho1_pt pho1_eta jet1_pt jet1_eta jet2_pt jet4_pt"
).split()
_PREFIX = {"mu": "muons", "e": "electrons", "pho": "photons", "jet": "jets"}


def _leading(row: dict, name: str) -> float:
    """``<prefix><n>_<field>``: field of the n-th object (1 = leading), 0.0 if absent."""
    obj, field = name.split("_")  # "mu2", "eta"
    prefix = obj.rstrip("0123456789")
    return _get(row[_PREFIX[prefix]], int(obj[len(prefix):]) - 1, field)


def reference_features(row: dict) -> dict[str, float]:
    """Every registered feature for one event, the slow and obvious way."""
    mu, el, ph, jets = row["muons"], row["electrons"], row["photons"], row["jets"]
    leptons = sorted(mu + el, key=lambda o: -o["pt"])  # stable: muons first on ties
    central = [j for j in jets if j["pt"] > 30.0 and abs(j["eta"]) < 2.5]
    mhx = sum(j["pt"] * math.cos(j["phi"]) for j in central)
    mhy = sum(j["pt"] * math.sin(j["phi"]) for j in central)
    lead = leptons[0] if leptons else {"pt": 0.0, "phi": 0.0}
    mt2 = 2.0 * lead["pt"] * row["met_pt"] * (1.0 - math.cos(lead["phi"] - row["met_phi"]))
    dphi = abs(math.remainder(jets[0]["phi"] - jets[1]["phi"], 2.0 * math.pi)) if len(jets) >= 2 else 0.0
    return {
        "n_muons": len(mu), "n_electrons": len(el), "n_photons": len(ph), "n_jets": len(jets),
        "n_leptons": len(mu) + len(el),
        "n_bjets": sum(1 for j in jets if j["btag"] > 0.5 and j["pt"] > 30.0),
        **{name: _leading(row, name) for name in _LEADING_NAMES},
        "lep1_pt": float(lead["pt"]),
        "ht": sum(j["pt"] for j in central),
        "mht": math.hypot(mhx, mhy),
        "met": row["met_pt"], "met_phi": row["met_phi"],
        "dimuon_mass": _mass(mu[:2]) if len(mu) >= 2 else 0.0,
        "dielectron_mass": _mass(el[:2]) if len(el) >= 2 else 0.0,
        "dilepton_mass": _mass(leptons[:2]) if len(leptons) >= 2 else 0.0,
        "fourlepton_mass": _mass(leptons[:4]) if len(leptons) >= 4 else 0.0,
        "dimuon_os": _os(mu), "dielectron_os": _os(el),
        "mt_lep_met": math.sqrt(max(mt2, 0.0)),
        "dphi_jet12": dphi,
    }


def reference_l1(row: dict) -> list[float]:
    """The 57 L1 inputs of one event, the slow and obvious way."""
    out = [row["met_pt"], 0.0, row["met_phi"]]
    eg = sorted(row["electrons"] + row["photons"], key=lambda o: -o["pt"])  # electrons first on ties
    for objs, n in ((eg, 4), (row["muons"], 4), (row["jets"], 10)):
        for k in range(n):
            out += [_get(objs, k, f) for f in ("pt", "eta", "phi")]
    return out


# ---------------------------------------------------------------- features vs reference


def test_reference_covers_every_registered_feature() -> None:
    row = make_batch(3, seed=1).to_pylist()[0]
    assert set(reference_features(row)) == set(FEATURES)


def test_every_feature_matches_reference(batch: pa.RecordBatch) -> None:
    rows = [reference_features(r) for r in batch.to_pylist()]
    frame = FeatureFrame(batch)
    for name, spec in FEATURES.items():
        got = frame[name]
        expected = np.array([r[name] for r in rows], dtype=np.float64)
        assert got.shape == (batch.num_rows,), name
        if name.startswith("n_"):
            assert got.dtype == np.int64, name
            np.testing.assert_array_equal(got, expected, err_msg=name)
        else:
            assert got.dtype == np.float64, name
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)
        assert spec.doc and spec.unit in ("", "GeV", "rad"), name


def test_features_exercise_their_branches(batch: pa.RecordBatch) -> None:
    # Guard the reference comparison against a degenerate random batch.
    frame = FeatureFrame(batch)
    for name in ("n_muons", "n_leptons", "n_jets"):
        assert {0, 1}.issubset(set(frame[name].tolist())) and frame[name].max() >= 6, name
    for name in ("n_bjets", "dimuon_os", "dielectron_os", "fourlepton_mass", "ht"):
        assert 0.0 < np.mean(frame[name] > 0) < 1.0, name


def test_l1_input_matches_reference(batch: pa.RecordBatch) -> None:
    got = l1_input(FeatureFrame(batch))
    expected = np.array([reference_l1(r) for r in batch.to_pylist()], dtype=np.float32)
    assert got.dtype == np.float32 and got.shape == (batch.num_rows, 57)
    np.testing.assert_array_equal(got, expected)


def test_l1_input_names() -> None:
    assert len(L1_INPUT_NAMES) == 57 and len(set(L1_INPUT_NAMES)) == 57
    assert L1_INPUT_NAMES[:6] == ("met_pt", "met_eta", "met_phi", "eg0_pt", "eg0_eta", "eg0_phi")
    assert L1_INPUT_NAMES[15:18] == ("mu0_pt", "mu0_eta", "mu0_phi")
    assert L1_INPUT_NAMES[27] == "jet0_pt" and L1_INPUT_NAMES[-1] == "jet9_phi"


# ---------------------------------------------------------------- object_matrix


def _events(*rows: dict) -> pa.RecordBatch:
    """A batch from a few hand-written events (missing columns get defaults)."""
    full = []
    for i, row in enumerate(rows):
        base = {name: i for name in HEADER} | {name: [] for name in COLLECTIONS} | {"met_pt": 0.0, "met_phi": 0.0}
        full.append(base | row)
    return pa.RecordBatch.from_pylist(full, schema=EVENT_SCHEMA)


def _p(pt: float, eta: float = 0.0, charge: int = 1) -> dict:
    return {"pt": pt, "eta": eta, "phi": 0.5, "mass": 0.0, "charge": charge, "iso": 0.0}


def test_object_matrix_merges_by_pt_first_collection_wins_ties() -> None:
    batch = _events(
        {"electrons": [_p(50, eta=1.0), _p(20, eta=1.0)], "photons": [_p(60, eta=2.0), _p(20, eta=2.0), _p(10, eta=2.0)]},
        {},
        {"photons": [_p(5, eta=2.0)]},
        # -0.0 passes validation (not < 0) and must tie with +0.0: the electron leads.
        {"electrons": [_p(-0.0, eta=1.0)], "photons": [_p(0.0, eta=2.0)]},
    )
    got = object_matrix(FeatureFrame(batch), collections=("electrons", "photons"), n_objects=4, fields=("pt", "eta"))
    assert got.shape == (4, 4, 2) and got.dtype == np.float32
    # Event 0: 60 (photon), 50 (e), 20 (e, wins the tie), 20 (photon); the 10 GeV photon is dropped.
    np.testing.assert_array_equal(got[0], [[60, 2], [50, 1], [20, 1], [20, 2]])
    np.testing.assert_array_equal(got[1], np.zeros((4, 2)))
    np.testing.assert_array_equal(got[2], [[5, 2], [0, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(got[3, :, 1], [1, 2, 0, 0])


def test_object_matrix_fill_missing_field_and_reference(batch: pa.RecordBatch) -> None:
    got = object_matrix(
        FeatureFrame(batch), collections=("jets", "muons"), n_objects=32, fields=("pt", "btag"), fill_missing=True
    )
    for i, row in enumerate(batch.to_pylist()):
        objs = sorted(row["jets"] + row["muons"], key=lambda o: -o["pt"])[:32]
        expected = np.zeros((32, 2), np.float32)
        for k, o in enumerate(objs):
            expected[k] = (o["pt"], o.get("btag", 0.0))
        np.testing.assert_array_equal(got[i], expected, err_msg=f"event {i}")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"collections": ("muon",), "fields": ("pt",)}, SchemaError, "no collection 'muon'.*closest: muons"),
        ({"collections": ("muons",), "fields": ("ptt",)}, SchemaError, "no field 'ptt'.*closest: pt"),
        ({"collections": ("jets",), "fields": ("charge",)}, SchemaError, "'jets' has no field 'charge'"),
        ({"collections": ("jets",), "fields": ("bta",), "fill_missing": True}, SchemaError, "no field 'bta'"),
        ({"collections": ("jets",), "fields": ("pt",), "n_objects": 0}, ValueError, "n_objects >= 1"),
        ({"collections": (), "fields": ("pt",)}, ValueError, "at least one collection"),
    ],
)
def test_object_matrix_errors_say_what_is_wrong(kwargs: dict, error: type, message: str) -> None:
    frame = FeatureFrame(_events({}))
    with pytest.raises(error, match=message):
        object_matrix(frame, **({"n_objects": 2} | kwargs))


# ---------------------------------------------------------------- invariant 2, zero copy


def _all_outputs(batch: pa.RecordBatch) -> dict[str, np.ndarray]:
    frame = FeatureFrame(batch)
    return {name: frame[name] for name in FEATURES} | {"l1_input": l1_input(frame)}


@pytest.mark.parametrize("sizes", [(1, 7, 0, 100, 331, 61), (500, 500, 500)])
def test_values_do_not_depend_on_batch(batch: pa.RecordBatch, sizes: tuple[int, ...]) -> None:
    whole = _all_outputs(batch)
    starts = np.cumsum((0,) + sizes)
    parts = [_all_outputs(batch.slice(int(s), n)) for s, n in zip(starts, sizes)]
    n = int(starts[-1])
    for name, full in whole.items():
        joined = np.concatenate([p[name] for p in parts])
        assert joined.dtype == full.dtype, name
        assert np.array_equal(joined, full[:n]), f"{name} differs when the batch is sliced"


def test_a_subset_frame_gives_every_feature_of_its_events(batch: pa.RecordBatch) -> None:
    # The engine runs cuts on a lazily gathered subset of the seed survivors: every
    # feature there must equal the full frame's value at those rows, bit for bit,
    # for a subset of a subset too, and its batch must hold exactly those events.
    whole = _all_outputs(batch)
    rows = np.random.default_rng(7).random(batch.num_rows) < 0.3
    rows[[0, -1]] = True
    parent = FeatureFrame(batch)
    for name in sorted(FEATURES)[::2]:
        parent[name]  # half the features known to the parent: the subset takes those rows
    sub = parent.subset(rows)
    inner = np.random.default_rng(8).random(sub.n_events) < 0.5
    subsub = FeatureFrame(batch).subset(rows).subset(inner)
    for name, values in whole.items():
        got = l1_input(sub) if name == "l1_input" else sub[name]
        np.testing.assert_array_equal(got, values[rows], err_msg=name)
        got2 = l1_input(subsub) if name == "l1_input" else subsub[name]
        np.testing.assert_array_equal(got2, values[rows][inner], err_msg=name)
    assert sub.batch.to_pylist() == batch.filter(pa.array(rows)).to_pylist()
    assert sub.collection("jets").field_names == FeatureFrame(batch).collection("jets").field_names


def test_empty_batch_gives_empty_outputs() -> None:
    out = _all_outputs(make_batch(4, seed=3).slice(2, 0))
    assert all(v.shape[0] == 0 for v in out.values())
    assert out["l1_input"].shape == (0, 57)


def test_collection_field_is_a_view_of_the_arrow_buffer() -> None:
    batch = make_batch(50, seed=5).slice(13, 20)  # non-zero slice offset
    view = FeatureFrame(batch).collection("muons")
    pt = view.field("pt")
    child = batch.column("muons").values.field("pt")
    buffer = child.buffers()[1]
    start = batch.column("muons").offsets[0].as_py()
    assert start > 0  # the view must skip the muons of the sliced-off events
    assert np.shares_memory(pt, np.frombuffer(buffer, dtype=np.float32))
    assert pt.ctypes.data == buffer.address + 4 * (child.offset + start)
    np.testing.assert_array_equal(pt, batch.column("muons").flatten().field("pt").to_numpy())


def test_invariant_mass_clips_rounding_below_zero() -> None:
    rng = np.random.default_rng(11)
    pt, eta, phi = rng.exponential(50, (2000, 1)), rng.uniform(-4, 4, (2000, 1)), rng.uniform(-3, 3, (2000, 1))
    m = invariant_mass(pt, eta, phi, np.zeros_like(pt))  # one massless object: m^2 is 0 up to rounding
    assert np.isfinite(m).all() and (m >= 0).all() and m.max() < 1e-4 * pt.max()


def test_frame_memo_computes_once() -> None:
    frame, calls = FeatureFrame(make_batch(5, seed=2)), []
    assert frame.memo("k", lambda: calls.append(1) or 42) == 42 and frame.memo("k", lambda: 0) == 42
    assert calls == [1]


@pytest.mark.parametrize("module", ["trigger.features.registry", "trigger.features.kinematics", "trigger.features"])
def test_registry_is_populated_whatever_is_imported_first(module: str) -> None:
    code = f"import {module}; from trigger.features.registry import FEATURES; print(len(FEATURES))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == len(FEATURES)
