"""Testing helpers shipped with the package: hand-written batches and files.

``make_batch`` builds a batch that follows :mod:`trigger.schema` from a few
Python dicts (a per-event loop: for tests and examples, never the data path).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trigger.schema import COLLECTIONS, HEADER, RAW, event_schema

__all__ = ["make_batch", "write_ipc", "write_parquet"]

_PARTICLE_DEFAULTS = {"pt": 10.0, "eta": 0.0, "phi": 0.0, "mass": 0.0, "charge": 0, "iso": 0.0}
_JET_DEFAULTS = {"pt": 30.0, "eta": 0.0, "phi": 0.0, "mass": 5.0, "btag": 0.0}


def make_batch(events: Sequence[Mapping[str, Any]], *, with_raw: bool = False, sort: bool = True) -> pa.RecordBatch:
    """Build an event batch from dicts.

    Missing header fields default to run 1, lumi 1, event = index, timestamp 0;
    missing collections to empty; missing object fields to neutral values.
    Extra keys become extra columns.

    Args:
        events: One mapping per event, e.g. ``{"muons": [{"pt": 30, "charge": -1}], "met_pt": 20}``.
        with_raw: Add the ``raw`` column (``raw`` key per event, default b"").
        sort: Sort each collection by decreasing pt (the model requires it;
            pass False to build invalid input on purpose).

    Returns:
        The batch.
    """
    schema = event_schema(with_raw=with_raw)
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    extras: dict[str, list[Any]] = {}
    for i, ev in enumerate(events):
        columns["run"].append(ev.get("run", 1))
        columns["luminosity_block"].append(ev.get("luminosity_block", 1))
        columns["event"].append(ev.get("event", i))
        columns["timestamp_ns"].append(ev.get("timestamp_ns", 0))
        for coll in COLLECTIONS:
            defaults = _JET_DEFAULTS if coll == "jets" else _PARTICLE_DEFAULTS
            objs = [{**defaults, **o} for o in ev.get(coll, [])]
            if sort:
                objs.sort(key=lambda o: -o["pt"])
            columns[coll].append(objs)
        columns["met_pt"].append(ev.get("met_pt", 0.0))
        columns["met_phi"].append(ev.get("met_phi", 0.0))
        if with_raw:
            columns[RAW].append(ev.get(RAW, b""))
        for key, value in ev.items():
            if key not in columns and key not in HEADER:
                extras.setdefault(key, [None] * i).append(value)
        for key, values in extras.items():
            if len(values) < i + 1:
                values.append(None)
    arrays = [pa.array(columns[f.name], type=f.type) for f in schema]
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    for key, values in extras.items():
        batch = batch.append_column(key, pa.array(values))
    return batch


def write_parquet(batches: Sequence[pa.RecordBatch], path: Path, *, row_group_size: int | None = None) -> Path:
    """Write batches as one Parquet file (one row group per batch by default)."""
    table = pa.Table.from_batches(list(batches))
    pq.write_table(table, path, row_group_size=row_group_size or max(b.num_rows for b in batches))
    return Path(path)


def write_ipc(batches: Sequence[pa.RecordBatch], path: Path, *, stream: bool = False) -> Path:
    """Write batches as an Arrow IPC file (or stream)."""
    with pa.OSFile(str(path), "wb") as sink:
        opener = pa.ipc.new_stream if stream else pa.ipc.new_file
        with opener(sink, batches[0].schema) as writer:
            for b in batches:
                writer.write_batch(b)
    return Path(path)
