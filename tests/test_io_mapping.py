import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trigger.errors import ConfigError, InputError, MenuError
from trigger.io.batch import Shard
from trigger.io.mapping import (
    ArrowMappedSource,
    Column,
    apply_mapping,
    bind_mapping,
    first_of_runs,
    load_mapping,
    mapping_from_dict,
    mapping_problems,
    shipped_mapping_names,
    types_from_arrow,
)
from trigger.io.sources import ParquetSource, open_source
from trigger.menu import compile_expression
from trigger.schema import check_structure, find_bad_events
from trigger.testing import make_batch, write_parquet

PARTICLE_ZERO = {"mass": 0.105, "charge": 0, "iso": 0}


def _nano_batch():
    """A NanoAOD-like Arrow batch: jagged Muon_* (unsorted in event 0), flat MET and an HLT bit."""
    lists = pa.list_(pa.float32())
    return pa.RecordBatch.from_pydict({
        "run": pa.array([1, 1, 2], pa.uint32()),
        "luminosityBlock": pa.array([5, 5, 6], pa.uint32()),
        "event": pa.array([10, 11, 12], pa.uint64()),
        "Muon_pt": pa.array([[20.0, 50.0], [], [7.0]], lists),
        "Muon_eta": pa.array([[0.1, -0.2], [], [2.0]], lists),
        "Muon_phi": pa.array([[1.0, 2.0], [], [3.0]], lists),
        "Muon_charge": pa.array([[1, -1], [], [1]], pa.list_(pa.int32())),
        "Muon_pfRelIso04_all": pa.array([[0.05, 0.3], [], [0.0]], lists),
        "PFMET_pt": pa.array([30.0, 40.0, 50.0], pa.float32()),
        "PFMET_phi": pa.array([0.5, 0.6, 0.7], pa.float32()),
        "HLT_IsoMu24": pa.array([True, False, False]),
    })


NANO_MAPPING = {
    "mapping": "test_nano",
    "header": {"run": "run", "luminosity_block": "luminosityBlock", "event": "event"},
    "collections": {"muons": {"fields": {"pt": "Muon_pt", "eta": "Muon_eta", "phi": "Muon_phi", "mass": 0.105,
                                         "charge": "Muon_charge", "iso": "Muon_pfRelIso04_all"}}},
    "met": {"met_pt": ["MET_pt", "PFMET_pt"], "met_phi": ["MET_phi", "PFMET_phi"]},
    "extras": ["HLT_*"],
}


def _apply(mapping_dict, batch):
    mapping = mapping_from_dict(mapping_dict)
    bound = bind_mapping(mapping, types_from_arrow(batch.schema), source="f.parquet")
    cols = {n: Column(*_col(batch.column(n))) for n in bound.branches}
    return apply_mapping(bound, cols, batch.num_rows, source="f.parquet")


def _col(arr):
    if isinstance(arr, pa.ListArray):
        return arr.values.to_numpy(zero_copy_only=False), arr.offsets.to_numpy().astype(np.int64)
    return arr.to_numpy(zero_copy_only=False), None


def test_jagged_branches_become_a_sorted_collection_with_alternatives_and_extras():
    out = _apply(NANO_MAPPING, _nano_batch())
    check_structure(out.schema)
    assert find_bad_events(out).n_bad == 0  # sorted by pt, every value in range
    muons = out.column("muons").to_pylist()
    assert [m["pt"] for m in muons[0]] == [50.0, 20.0]  # event 0 was stored unsorted
    assert [m["charge"] for m in muons[0]] == [-1, 1]  # every field moved with its pt
    assert muons[1] == [] and muons[2][0]["eta"] == 2.0
    assert out.column("met_pt").to_pylist() == [30.0, 40.0, 50.0]  # MET_pt absent: PFMET_pt taken
    assert out.column("luminosity_block").to_pylist() == [5, 5, 6]
    assert out.column("HLT_IsoMu24").to_pylist() == [True, False, False]
    assert out.column("electrons").to_pylist() == [[], [], []]  # unmapped collections are empty
    assert out.schema.field("event").type == pa.uint64()


def test_flat_slots_with_derived_kinematics_units_and_select():
    px = np.array([30_000.0, 3_000.0])  # MeV
    py = np.array([40_000.0, 4_000.0])
    pz = np.array([0.0, 12_000.0])
    batch = pa.RecordBatch.from_pydict({
        "Run": pa.array([7, 7], pa.int32()), "Event": pa.array([1, 2], pa.int32()),
        "px1": px, "py1": py, "pz1": pz, "q1": pa.array([1, -1], pa.int32()),
        "px2": np.array([0.0, 60_000.0]), "py2": np.array([0.0, 80_000.0]), "pz2": np.array([0.0, 0.0]),
        "q2": pa.array([0, 1], pa.int32()),
    })
    slot = {"pt": {"expr": "hypot(px{i}, py{i})", "unit": "MeV"}, "eta": "asinh(pz{i} / hypot(px{i}, py{i}))",
            "phi": "atan2(py{i}, px{i})", "mass": 0.1056584, "charge": "q{i}", "iso": 0}
    mapping = {"mapping": "flat", "header": {"run": "Run", "luminosity_block": 0, "event": "Event"},
               "collections": {"muons": {"objects": [{k: (v.format(i=i) if isinstance(v, str) else
                                                          {"expr": v["expr"].format(i=i), "unit": v["unit"]}
                                                          if isinstance(v, dict) else v) for k, v in slot.items()}
                                                     for i in (1, 2)],
                                         "select": "pt > 0"}},
               "met": {"met_pt": 0, "met_phi": 0}}
    out = _apply(mapping, batch)
    muons = out.column("muons").to_pylist()
    assert len(muons[0]) == 1  # the empty second slot (pt 0) is dropped by select
    assert muons[0][0]["pt"] == pytest.approx(50.0) and muons[0][0]["eta"] == pytest.approx(0.0)
    assert [m["pt"] for m in muons[1]] == pytest.approx([100.0, 5.0])  # slot 2 is harder: sorted first
    assert muons[1][1]["eta"] == pytest.approx(np.arcsinh(12 / 5))
    assert muons[1][1]["phi"] == pytest.approx(np.arctan2(4, 3))
    assert [m["charge"] for m in muons[1]] == [1, -1]
    assert out.column("run").to_pylist() == [7, 7]
    assert find_bad_events(out).n_bad == 0


def test_missing_and_mistyped_branches_are_named_before_reading():
    batch = _nano_batch().drop_columns(["Muon_eta"])
    types = types_from_arrow(batch.schema)
    with pytest.raises(InputError) as info:
        bind_mapping(mapping_from_dict(NANO_MAPPING), types, source="nano.parquet")
    assert info.value.column == "Muon_eta" and info.value.source == "nano.parquet"
    assert "muons.eta" in str(info.value)
    flat_pt = batch.set_column(batch.schema.get_field_index("Muon_pt"), "Muon_pt", pa.array([1.0, 2.0, 3.0]))
    problems = mapping_problems(mapping_from_dict(NANO_MAPPING), types_from_arrow(flat_pt.schema))
    messages = {p.column: p.message for p in problems}
    assert set(messages) == {"Muon_eta", "Muon_pt"}  # every problem at once, for `trigger inspect`
    assert "needs a list per event" in messages["Muon_pt"]
    no_met = _nano_batch().drop_columns(["PFMET_pt"])
    problems = mapping_problems(mapping_from_dict(NANO_MAPPING), types_from_arrow(no_met.schema))
    assert problems[0].column == "MET_pt" and "no alternative exists either: PFMET_pt" in problems[0].message


def test_values_that_do_not_fit_the_model_are_refused_with_file_and_branch():
    batch = _nano_batch()
    charges = pa.array([[1, 300], [], [1]], pa.list_(pa.int32()))
    bad = batch.set_column(batch.schema.get_field_index("Muon_charge"), "Muon_charge", charges)
    with pytest.raises(InputError, match=r"muons.charge \(from Muon_charge\) needs values in \[-128, 127\]") as info:
        _apply(NANO_MAPPING, bad)
    assert info.value.column == "Muon_charge" and info.value.source == "f.parquet"
    shifted = batch.set_column(batch.schema.get_field_index("Muon_eta"), "Muon_eta",
                               pa.array([[0.1], [0.3], [2.0]], pa.list_(pa.float32())))
    with pytest.raises(InputError, match="'Muon_eta' has 1 element\\(s\\) in row 0") as info:
        _apply(NANO_MAPPING, shifted)
    assert info.value.column == "Muon_eta"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colections": {}}, "unknown key 'colections' \\(did you mean 'collections'"),
        ({"met": {"met_pt": "__import__('os').system('x')", "met_phi": 0}}, "names starting with '__'"),
        ({"met": {"met_pt": "MET.pt", "met_phi": 0}}, "attribute access is not allowed"),
        ({"met": {"met_pt": "n_muons(pt > 1)", "met_phi": 0}}, "unknown function 'n_muons'"),
        ({"met": {"met_pt": "MET_pt > 3", "met_phi": 0}}, "expected a number, found a condition"),
        ({"met": {"met_pt": {"expr": "MET_pt", "unit": "furlong"}, "met_phi": 0}}, "unknown unit 'furlong'"),
        ({"collections": {"muons": {"fields": {"pt": "Muon_pt"}}}}, "no value for eta, phi, mass, charge, iso"),
        ({"extras": ["run"]}, "'run' is an event-model column"),
    ],
)
def test_invalid_mappings_are_refused_when_loading(change, message):
    with pytest.raises(ConfigError, match=message):
        mapping_from_dict({**NANO_MAPPING, **change})


def test_menu_language_keeps_its_own_functions():
    # The mapping compiler reuses the menu's; its extra functions must not leak into menus.
    with pytest.raises(MenuError, match="unknown function 'atan2'"):
        compile_expression("atan2(met, 1) > 0")
    assert compile_expression("n_muons(pt > 20) >= 1").collections == {"muons"}


def test_shipped_mappings_load_and_unknown_names_get_suggestions():
    assert {"cms_nanoaod", "uproot_zmumu"} <= set(shipped_mapping_names())
    nano = load_mapping("cms_nanoaod")
    assert nano.tree == "Events" and "HLT_*" in nano.extras
    assert load_mapping("uproot_zmumu").dedup.keys == ("Run", "Event")
    with pytest.raises(ConfigError, match="did you mean 'cms_nanoaod'"):
        load_mapping("cms_nanoad")


def test_first_of_runs_carries_the_previous_chunk():
    run = np.array([1, 1, 1, 2, 2])
    event = np.array([5, 5, 6, 6, 6])
    assert first_of_runs([run, event], previous=None).tolist() == [True, False, True, True, False]
    assert first_of_runs([run, event], previous=(1, 5)).tolist() == [False, False, True, True, False]


def test_dedup_counts_events_ahead_so_shards_tile_them_across_row_groups(tmp_path):
    # Rows 2-3 and 3-4 repeat (run, event); the repeat of event 6 straddles the row groups.
    table = pa.table({"Run": pa.array([1] * 6, pa.int32()), "Event": pa.array([5, 5, 6, 6, 6, 7], pa.int32()),
                      "pt1": [10.0, 11.0, 20.0, 21.0, 22.0, 30.0], "pt2": [1.0] * 6})
    path = tmp_path / "dup.parquet"
    pq.write_table(table, path, row_group_size=3)
    mapping = mapping_from_dict({
        "mapping": "dup", "header": {"run": "Run", "luminosity_block": 0, "event": "Event"},
        "collections": {"muons": {"objects": [{"pt": f"pt{i}", "eta": 0, "phi": 0, **PARTICLE_ZERO} for i in (1, 2)]}},
        "met": {"met_pt": 0, "met_phi": 0}, "dedup": ["Run", "Event"]})
    source = ArrowMappedSource(ParquetSource(str(path)), mapping=mapping)
    shards = source.shards()
    assert [(s.row_start, s.row_stop) for s in shards] == [(0, 2), (2, 3)]  # 2 events, then 1 (event 7)
    assert any("6 rows hold 3 events" in n and "3 repeated rows dropped" in n for n in source.notes)
    events, leading = [], []
    for shard in shards:
        for batch in source.read(shard, batch_size=2):
            events += batch.column("event").to_pylist()
            leading += [m[0]["pt"] for m in batch.column("muons").to_pylist()]
    assert events == [5, 6, 7] and leading == [10.0, 20.0, 30.0]  # the first row of each event is kept
    with pytest.raises(InputError, match="does not match"):
        list(source.read(Shard(str(path), "parquet", 0, 0, 3), batch_size=2))


def test_open_source_maps_nanoaod_like_parquet_automatically_and_leaves_event_model_files(tmp_path):
    nano = tmp_path / "nano.parquet"
    nano_batch = _nano_batch().append_column("Electron_pt", pa.array([[], [], []], pa.list_(pa.float32())))
    pq.write_table(pa.Table.from_batches([nano_batch]), nano)
    with pytest.raises(InputError, match="no tree|Electron_eta"):  # not every NanoAOD branch: no shipped fit
        open_source(nano, mapping="cms_nanoaod").shards()
    plain = open_source(write_parquet([make_batch([{"event": 1}])], tmp_path / "model.parquet"))
    assert isinstance(plain, ParquetSource) and plain.notes == []
    given = open_source(nano, mapping=mapping_from_dict(NANO_MAPPING))
    assert given.notes == ["mapping test_nano (given)"]
    batch = next(given.read(given.shards()[0], batch_size=10))
    assert batch.column("HLT_IsoMu24").to_pylist() == [True, False, False]
