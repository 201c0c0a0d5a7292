import numpy as np
import pyarrow as pa
import pytest

from trigger.engine import Engine
from trigger.errors import ModelError
from trigger.features.frame import FeatureFrame
from trigger.io.generator import GeneratorConfig, generate_batches
from trigger.menu import compile_menu, load_menu

MENU = """
menu: test
version: 1
streams: {Muon: {}, Jets: {}}
paths:
  - {name: OneMu, cut: "n_muons(pt > 20) >= 1", stream: Muon}
  - {name: TwoMu, cut: "n_muons(pt > 10) >= 2", stream: Muon}
  - {name: HT, cut: "ht > 300", stream: Jets}
"""


@pytest.fixture(scope="module")
def engine():
    return Engine(compile_menu(load_menu(MENU)))


@pytest.fixture(scope="module")
def batch():
    cfg = GeneratorConfig(seed=5, raw_bytes_per_event=256)
    return next(generate_batches(20_000, config=cfg, batch_size=20_000))


def test_counts_balance_and_bits_match_the_kept_rows(engine, batch):
    out = engine.process(batch, batch_id="0:0")
    assert out.n_in == 20_000 == out.n_kept + out.n_rejected + out.n_quarantined
    assert out.n_quarantined == 0 and out.n_kept > 0
    muon = out.streams["Muon"]
    assert muon.num_rows == int(np.count_nonzero(
        muon.column("pass_OneMu").to_numpy(zero_copy_only=False) | muon.column("pass_TwoMu").to_numpy(zero_copy_only=False)))
    assert out.path_counts[0] == int(np.count_nonzero(muon.column("pass_OneMu").to_numpy(zero_copy_only=False)))
    # every kept muon-stream event really has a muon above 20 GeV or two above 10
    pts = muon.column("muons").to_pylist()
    assert all(any(m["pt"] > 20 for m in ev) or sum(m["pt"] > 10 for m in ev) >= 2 for ev in pts)
    assert muon.schema.names[-3:] == ["pass_OneMu", "pass_TwoMu", "pass_HT"]
    assert "process" in muon.schema.names  # extra columns are carried through


def test_every_stream_carries_each_paths_bit_of_its_events(engine, batch):
    out = engine.process(batch, batch_id="0:0")
    decisions = engine.menu.evaluate(FeatureFrame(batch))
    position = {int(e): i for i, e in enumerate(batch.column("event").to_numpy())}
    assert len(out.streams) >= 2
    for stream in out.streams.values():
        rows = [position[int(e)] for e in stream.column("event").to_numpy()]
        for j, name in enumerate(engine.menu.path_names):
            column = stream.column(f"pass_{name}")
            assert column.null_count == 0
            np.testing.assert_array_equal(column.to_numpy(zero_copy_only=False), decisions[rows, j])


def test_raw_payload_is_copied_for_kept_events_only(engine, batch):
    def allocated(b):
        before = pa.total_allocated_bytes()
        out = engine.process(b, batch_id="0:0")
        return pa.total_allocated_bytes() - before, out

    without, _ = allocated(batch.drop_columns(["raw"]))
    with_raw, out = allocated(batch)
    kept_rows = sum(b.num_rows for b in out.streams.values())
    # the only raw bytes allocated are those of the kept rows (256 B payload + 8 B offset each)
    assert with_raw - without <= kept_rows * 264 + 4096
    assert with_raw - without < batch.column("raw").nbytes / 5


def test_decisions_do_not_depend_on_batching(engine, batch):
    whole = engine.process(batch, batch_id="0:0")
    parts = [engine.process(batch.slice(a, 777), batch_id=f"0:{a}") for a in range(0, batch.num_rows, 777)]
    for stream, kept in whole.streams.items():
        joined = pa.Table.from_batches([p.streams[stream] for p in parts if stream in p.streams])
        assert joined.equals(pa.Table.from_batches([kept]))
    assert np.array_equal(whole.path_counts, sum(p.path_counts for p in parts))


def test_bad_events_are_quarantined_and_never_kept(engine):
    from trigger.testing import make_batch

    b = make_batch([{"muons": [{"pt": 50}]}, {"muons": [{"pt": 60, "eta": float("nan")}]}, {"jets": [{"pt": -5}]}, {}])
    out = engine.process(b, batch_id="3:0", source="x.parquet")
    assert (out.n_kept, out.n_rejected, out.n_quarantined) == (1, 1, 2)
    assert out.quarantined.column("event").to_pylist() == [1, 2]
    assert out.quarantined.column("quarantine_reason").to_pylist() == ["muons.eta: not finite (NaN or inf)",
                                                                         "jets.pt: negative, expected >= 0"]
    assert out.streams["Muon"].column("event").to_pylist() == [0]


def test_wrong_schema_quarantines_the_whole_batch_with_the_reason(engine, batch):
    bad = batch.drop_columns(["jets"])
    out = engine.process(bad, batch_id="1:0", source="f.arrow")
    assert out.n_quarantined == bad.num_rows and out.n_kept == 0 and not out.streams
    assert "missing column 'jets'" in str(out.error) and "f.arrow" in str(out.error)


def test_menu_using_an_unloaded_model_is_refused():
    menu = compile_menu(load_menu(MENU.replace('"ht > 300"', '"score.axo > 0.5"')), registry=None)
    with pytest.raises(ModelError, match="axo"):
        Engine(menu)
