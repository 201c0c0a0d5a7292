import numpy as np
import pyarrow as pa
import pytest

from trigger.errors import SchemaError
from trigger.schema import Limits, check_structure, event_schema, find_bad_events
from trigger.testing import make_batch


def test_good_batch_has_no_violations():
    batch = make_batch([{"muons": [{"pt": 30}, {"pt": 20}], "jets": [{"pt": 50}], "met_pt": 10}, {}], with_raw=True)
    check_structure(batch.schema)
    report = find_bad_events(batch)
    assert report.n_bad == 0 and report.violations == []


def test_missing_and_mistyped_columns_are_all_listed_with_closest_names():
    batch = make_batch([{}]).drop_columns(["muons"])
    batch = batch.append_column("muon", pa.array([[]], type=pa.list_(pa.int32())))
    batch = batch.set_column(batch.schema.get_field_index("met_pt"), "met_pt", pa.array([1.0], type=pa.float64()))
    with pytest.raises(SchemaError) as info:
        check_structure(batch.schema, source="f.parquet", batch="0:0")
    msg = str(info.value)
    assert "missing column 'muons'" in msg and "closest present: muon" in msg
    assert "'met_pt' has type double, expected float" in msg
    assert msg.startswith("file f.parquet, batch 0:0, column muons")
    assert info.value.column == "muons"


def test_raw_must_be_binary():
    batch = make_batch([{}]).append_column("raw", pa.array(["x"]))
    with pytest.raises(SchemaError, match="'raw' has type string"):
        check_structure(batch.schema)


@pytest.mark.parametrize(
    ("event", "column", "reason"),
    [
        ({"jets": [{"pt": 40}, {"pt": float("nan")}]}, "jets.pt", "not finite"),
        ({"electrons": [{"pt": -3.0}]}, "electrons.pt", "negative"),
        ({"muons": [{"pt": 30, "eta": float("inf")}]}, "muons.eta", "not finite"),
        ({"muons": [{"pt": 30, "eta": 50.0}]}, "muons.eta", "above 10"),
        ({"met_pt": -1.0}, "met_pt", "negative"),
        ({"met_pt": 1e6}, "met_pt", "above 14000"),
        ({"photons": [{"pt": 5}] * 300}, "photons", "more than 256 objects"),
    ],
)
def test_each_kind_of_bad_value_is_found_with_column_and_row(event, column, reason):
    batch = make_batch([{}, event, {}])
    report = find_bad_events(batch)
    assert report.bad.tolist() == [False, True, False]
    assert any(v.column == column and reason in v.reason and v.rows.tolist() == [1] for v in report.violations)
    assert report.reasons[1].startswith(column)


def test_unsorted_collection_is_a_violation_but_event_boundaries_are_not():
    # event 0 ends with a soft muon, event 1 starts with a hard one: not a violation
    batch = make_batch([{"muons": [{"pt": 50}, {"pt": 5}]}, {"muons": [{"pt": 80}]},
                        {"muons": [{"pt": 10}, {"pt": 20}]}], sort=False)
    report = find_bad_events(batch)
    assert report.bad.tolist() == [False, False, True]
    assert report.violations[0].reason == "objects not sorted by decreasing pt"


def test_violations_on_a_sliced_batch_report_rows_of_the_slice():
    batch = make_batch([{"jets": [{"pt": 10}]}, {"jets": [{"pt": -1}]}, {}, {"jets": [{"pt": -2}]}])
    report = find_bad_events(batch.slice(1, 3))
    assert np.flatnonzero(report.bad).tolist() == [0, 2]


def test_limits_are_configurable():
    batch = make_batch([{"jets": [{"pt": 30}] * 5}])
    assert find_bad_events(batch, limits=Limits(max_objects=4)).n_bad == 1
    assert find_bad_events(batch).n_bad == 0


def test_schema_has_header_collections_met_and_optional_raw():
    names = event_schema(with_raw=True).names
    assert names[:4] == ["run", "luminosity_block", "event", "timestamp_ns"]
    assert {"muons", "electrons", "photons", "jets", "met_pt", "met_phi", "raw"} <= set(names)
    assert "raw" not in event_schema().names


def test_an_event_with_several_violations_is_quarantined_for_the_first():
    batch = make_batch([{}, {"met_pt": -1.0, "jets": [{"pt": -5.0}]}, {}])
    report = find_bad_events(batch)
    assert [v.column for v in report.violations] == ["met_pt", "jets.pt"]
    assert report.reasons.tolist() == ["", "met_pt: negative, expected >= 0", ""]
