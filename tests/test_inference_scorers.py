"""Tests of scorers and input builders: rows only, NaN elsewhere, batch-independent scores."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from trigger.errors import ModelError, SchemaError
from trigger.features.frame import FeatureFrame
from trigger.inference import (
    AnomalyScorer,
    ClassifierScorer,
    ModelSession,
    SessionConfig,
    package_models_dir,
    scorer_for,
)
from trigger.inference.tensors import (
    L1InputBuilder,
    ObjectBuilder,
    builder_from_metadata,
)
from trigger.io.generator import GeneratorConfig, generate_batches
from trigger.testing import make_batch

CPU = SessionConfig(providers=("cpu",))


def _scorer(name: str, **kwargs):
    path = package_models_dir() / f"{name}.onnx"
    return scorer_for(ModelSession(path.read_bytes(), name=name, file=str(path), config=CPU), **kwargs)


@pytest.fixture(scope="module")
def scorers():
    return {"anomaly_ae": _scorer("anomaly_ae"), "ttbar_deepsets": _scorer("ttbar_deepsets")}


@pytest.fixture(scope="module")
def batch():
    return next(generate_batches(6_000, config=GeneratorConfig(seed=9), batch_size=6_000))


def test_metadata_picks_the_scorer_kind(scorers):
    assert isinstance(scorers["anomaly_ae"], AnomalyScorer)
    assert isinstance(scorers["ttbar_deepsets"], ClassifierScorer)
    assert scorers["ttbar_deepsets"].builder == ObjectBuilder()


@pytest.mark.parametrize("name", ["anomaly_ae", "ttbar_deepsets"])
@pytest.mark.parametrize("fraction", [0.03, 0.8])  # gathered subset, and dense build then index
def test_scores_only_the_rows_and_match_the_whole_batch_bit_for_bit(scorers, batch, name, fraction):
    scorer = scorers[name]
    frame = FeatureFrame(batch)
    everything = scorer.score(frame, np.ones(batch.num_rows, dtype=bool))
    assert everything.dtype == np.float32 and np.isfinite(everything).all()
    rows = np.random.default_rng(3).random(batch.num_rows) < fraction
    some = scorer.score(FeatureFrame(batch), rows)
    assert np.isnan(some[~rows]).all()
    np.testing.assert_array_equal(some[rows], everything[rows])  # invariant 2: no dependence on batching
    sliced = scorer.score(FeatureFrame(batch.slice(1_001, 777)), np.ones(777, dtype=bool))
    np.testing.assert_array_equal(sliced, everything[1_001:1_778])


def test_no_rows_runs_nothing_and_bad_rows_are_refused(scorers, batch):
    scorer = scorers["anomaly_ae"]
    assert np.isnan(scorer.score(FeatureFrame(batch), np.zeros(batch.num_rows, dtype=bool))).all()
    with pytest.raises(ModelError, match="rows must be a bool array of shape"):
        scorer.score(FeatureFrame(batch), np.ones(batch.num_rows, dtype=np.int8))


def test_outputs_mean_what_the_cards_say(scorers):
    quiet = {"jets": [{"pt": 35.0, "eta": 0.3}, {"pt": 30.0, "eta": -0.5}], "met_pt": 8.0}
    busy = {"muons": [{"pt": 420.0, "eta": 0.2, "phi": 1.0}, {"pt": 310.0, "eta": -0.4, "phi": -2.0}],
            "electrons": [{"pt": 380.0, "eta": 1.0}, {"pt": 250.0, "eta": -1.2, "phi": 2.5}],
            "jets": [{"pt": 40.0}], "met_pt": 15.0}
    frame = FeatureFrame(make_batch([quiet, busy]))
    ae = scorers["anomaly_ae"].score(frame, np.ones(2, dtype=bool))
    assert ae[1] > 10 * ae[0]  # four hard leptons are far more anomalous than a soft dijet
    p = scorers["ttbar_deepsets"].score(frame, np.ones(2, dtype=bool))
    assert ((p >= 0) & (p <= 1)).all()


def test_the_anomaly_path_fires_on_an_extreme_jet_but_not_on_the_same_event_without_it(scorers):
    # The score weighs jets only beyond their 99.9% residual on the training background:
    # busy events cost no rate, a jet the standard model never makes still counts.
    from trigger.menu import default_menu_path, load_menu

    path = next(p for p in load_menu(default_menu_path().with_name("anomaly.yaml")).paths
                if p.name == "HLT_Anomaly_AE")
    threshold = float(path.cuts[0].split(">")[1])
    dijet = {"jets": [{"pt": 220.0, "eta": 0.3, "phi": 0.2}, {"pt": 200.0, "eta": -0.5, "phi": -2.9}],
             "met_pt": 12.0, "met_phi": 1.0}
    tev = {**dijet, "jets": [{"pt": 1000.0, "eta": 0.1, "phi": 1.5}, *dijet["jets"]]}
    ae = scorers["anomaly_ae"].score(FeatureFrame(make_batch([dijet, tev])), np.ones(2, dtype=bool))
    assert ae[0] < threshold < ae[1]


def test_object_tensor_merges_by_pt_with_a_collection_one_hot():
    batch = make_batch([{"muons": [{"pt": 50.0, "eta": 1.0, "phi": 0.5}],
                         "jets": [{"pt": 100.0, "eta": -1.0, "phi": 2.0, "btag": 0.9}]}, {}])
    x = ObjectBuilder(n_objects=3).__call__(FeatureFrame(batch))
    assert x.shape == (2, 3, 8)
    np.testing.assert_array_equal(x[0, 0], [100, -1, 2, np.float32(0.9), 0, 0, 0, 1])  # the jet leads
    np.testing.assert_array_equal(x[0, 1], [50, 1, 0.5, 0, 1, 0, 0, 0])  # muons have no btag: 0
    assert not x[0, 2].any() and not x[1].any()


@pytest.mark.parametrize("builder", [L1InputBuilder(), ObjectBuilder()], ids=["l1_input", "objects"])
def test_builders_on_selected_events_equal_the_full_input_at_those_rows(batch, builder):
    # The scorers build inputs for seed survivors straight from the batch's views: row i
    # must be exactly event events[i]'s row of the full input, empty events included.
    frame = FeatureFrame(batch)
    full = builder(frame)
    events = np.flatnonzero(np.random.default_rng(3).random(batch.num_rows) < 0.05)
    events = np.union1d(events, [0, batch.num_rows - 1])
    np.testing.assert_array_equal(builder(frame, events=events), full[events])
    assert builder(frame, events=np.zeros(0, dtype=np.int64)).shape == (0, *full.shape[1:])
    with pytest.raises(SchemaError, match="the classifier needs collection 'photons'"):
        ObjectBuilder()(FeatureFrame(batch.drop_columns(["photons"])))


def test_a_model_that_does_not_fit_its_scorer_is_refused_at_load():
    path = package_models_dir() / "ttbar_deepsets.onnx"
    session = ModelSession(path.read_bytes(), name="ttbar", file=str(path), config=CPU)
    with pytest.raises(ModelError, match=r"input 'objects' has shape \[None, 32, 8\], expected \[None, 16, 8\]"):
        ClassifierScorer(session, builder=ObjectBuilder(n_objects=16))
    with pytest.raises(ModelError, match="input names differ"):
        AnomalyScorer(session, builder=L1InputBuilder())


def test_models_without_trigger_metadata_need_a_kind():
    ins = [helper.make_tensor_value_info("l1_input", TensorProto.FLOAT, ["n", 57])]
    outs = [helper.make_tensor_value_info("s", TensorProto.FLOAT, ["n"])]
    node = helper.make_node("ReduceSum", ["l1_input", "axes"], ["s"], keepdims=0)
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    graph = helper.make_graph([node], "g", ins, outs, initializer=[axes])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9).SerializeToString()
    session = ModelSession(data, name="foreign", config=CPU)
    with pytest.raises(ModelError, match="has no trigger.kind metadata; set `kind:`"):
        scorer_for(session)
    assert isinstance(scorer_for(session, kind="anomaly"), AnomalyScorer)


@pytest.mark.parametrize(("value", "message"), [
    ("{", "not JSON"), ('{"builder": "eval"}', "must name a builder"),
    ('{"builder": "objects", "collections": ["taus"]}', "unknown collection 'taus'"),
    ('{"builder": "objects", "fields": ["ptt"]}', "has a field 'ptt'"),
    ('{"builder": "objects", "code": 1}', "unknown keys"),
])
def test_input_metadata_is_a_whitelist(value, message):
    with pytest.raises(ModelError, match=message):
        builder_from_metadata(value, kind="classifier")
