"""Applying a bound mapping to one chunk: columns in, an event-model RecordBatch out (vectorized).

Per chunk: header, MET and extras are evaluated per event; a jagged collection
is evaluated per element, a flat one slot by slot and interleaved event-major; then objects
failing ``select`` are dropped and every collection is sorted by decreasing pt
with one ``lexsort`` over (event, -pt). No Python loop runs over events or
objects: loops are over columns and fields only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from trigger.errors import InputError
from trigger.io.mapping.bind import BoundField, BoundMapping
from trigger.io.mapping.columns import Column
from trigger.schema import COLLECTIONS, HEADER, MET

__all__ = ["apply_mapping"]

_INT_RANGE = {t: (np.iinfo(t.to_pandas_dtype()).min, np.iinfo(t.to_pandas_dtype()).max)
              for t in (pa.uint32(), pa.uint64(), pa.int64(), pa.int8())}


def _cast(values: np.ndarray, target: pa.DataType, bound: BoundField, *, source: str | None) -> np.ndarray:
    """Cast to the model's type; integers must be whole and in range (never wrap silently)."""
    dtype = np.dtype(target.to_pandas_dtype())
    if values.dtype == dtype:
        return values
    if dtype.kind == "f":
        return values.astype(dtype)
    column = bound.bare or bound.target
    what = f"{bound.target}" + (f" (from {bound.bare})" if bound.bare else "")
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.rint(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"{what} needs whole numbers, found {values[row]!r} at row {row} of the chunk",
                             source=source, column=column)
    if values.size:
        lo, hi = _INT_RANGE[target]
        vmin, vmax = values.min(), values.max()
        if vmin < lo or vmax > hi:
            raise InputError(f"{what} needs values in [{lo}, {hi}] ({target}), found {vmin}..{vmax}",
                             source=source, column=column)
    return values.astype(dtype)


def _jagged(coll: str, fields: dict[str, BoundField], columns: Mapping[str, Column],
            *, source: str | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    names = sorted({n for bf in fields.values() for n in bf.names if columns[n].jagged})
    ref = columns[names[0]]
    for n in names[1:]:
        other = columns[n].offsets
        if not np.array_equal(other, ref.offsets):
            if len(other) != len(ref.offsets):
                raise InputError(f"branch {n!r} has {len(other) - 1} rows, {names[0]!r} has {len(ref.offsets) - 1}",
                                 source=source, column=n)
            row = int(np.flatnonzero(np.diff(other) != np.diff(ref.offsets))[0])
            raise InputError(f"branch {n!r} has {int(other[row + 1] - other[row])} element(s) in row {row} of the chunk "
                             f"but {names[0]!r} has {int(ref.counts[row])}; every branch of {coll} needs one element "
                             "per object", source=source, column=n)
    ctx = {n: columns[n].values for bf in fields.values() for n in bf.names}
    n_obj = int(ref.offsets[-1])
    return ref.offsets, {f: _cast(np.asarray(bf.evaluate(ctx, n_obj)), COLLECTIONS[coll].field(f).type, bf, source=source)
                         for f, bf in fields.items()}


def _slots(coll: str, slots: list[dict[str, BoundField]], flat: Mapping[str, np.ndarray], n: int,
           *, source: str | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    k = len(slots)
    values = {}
    for f in slots[0]:
        target = COLLECTIONS[coll].field(f).type
        per_slot = [_cast(np.asarray(s[f].evaluate(flat, n)), target, s[f], source=source) for s in slots]
        values[f] = np.stack(per_slot, axis=1).reshape(-1)  # event-major: (event 0: slot 0, slot 1, ...), ...
    return np.arange(n + 1, dtype=np.int64) * k, values


def _finish(coll: str, offsets: np.ndarray, values: dict[str, np.ndarray], bound: BoundMapping) -> pa.ListArray:
    """Select, sort by decreasing pt and build the list<struct> array."""
    select = bound.selects.get(coll)
    if select is not None:
        with np.errstate(invalid="ignore"):
            mask = np.asarray(select(values), dtype=bool)
        if mask.ndim == 0:
            mask = np.full(int(offsets[-1]), bool(mask))
        kept = np.zeros(mask.size + 1, dtype=np.int64)  # objects kept per event, by cumulative sums
        np.cumsum(mask, out=kept[1:])
        counts = kept[offsets[1:]] - kept[offsets[:-1]]
        values = {f: v[mask] for f, v in values.items()}
        offsets = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
    pt = values["pt"]
    if bound.mapping.sort_by_pt and pt.size > 1:
        rising = np.flatnonzero(pt[1:] > pt[:-1]) + 1
        if rising.size and not np.isin(rising, offsets).all():  # only sort when some event is unsorted
            event = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
            order = np.lexsort((-pt, event))
            values = {f: v[order] for f, v in values.items()}
    if offsets[-1] > np.iinfo(np.int32).max:
        raise InputError(f"{coll}: {int(offsets[-1])} objects in one chunk exceed a list array's 2^31 limit; "
                         "lower the batch size")
    struct = COLLECTIONS[coll]
    children = pa.StructArray.from_arrays([pa.array(values[f.name], type=f.type) for f in struct], fields=list(struct))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), children)


def _empty(coll: str, n: int) -> pa.ListArray:
    struct = COLLECTIONS[coll]
    children = pa.StructArray.from_arrays([pa.array([], type=f.type) for f in struct], fields=list(struct))
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, dtype=np.int32)), children)


def apply_mapping(bound: BoundMapping, columns: Mapping[str, Column], n_rows: int,
                  *, source: str | None = None) -> pa.RecordBatch:
    """Map one chunk onto the event model.

    Args:
        bound: The mapping, bound to the file's layout.
        columns: The chunk's branches (at least ``bound.branches``).
        n_rows: Rows in the chunk.
        source: The file, for messages.

    Returns:
        A batch with ``bound.schema``: the event model, then the extra columns.

    Raises:
        InputError: Naming the file and branch when values do not fit (jagged
            branches of one collection with different counts, a non-integer or
            out-of-range value for an integer column).
    """
    flat = {n: c.values for n, c in columns.items() if not c.jagged}
    arrays: list[pa.Array] = []
    for name, target in HEADER.items():
        bf = bound.header[name]
        arrays.append(pa.array(_cast(np.asarray(bf.evaluate(flat, n_rows)), target, bf, source=source), type=target))
    for coll in COLLECTIONS:
        if coll in bound.jagged:
            arrays.append(_finish(coll, *_jagged(coll, bound.jagged[coll], columns, source=source), bound))
        elif coll in bound.slots:
            arrays.append(_finish(coll, *_slots(coll, bound.slots[coll], flat, n_rows, source=source), bound))
        else:
            arrays.append(_empty(coll, n_rows))
    for name, target in MET.items():
        bf = bound.met[name]
        arrays.append(pa.array(_cast(np.asarray(bf.evaluate(flat, n_rows)), target, bf, source=source), type=target))
    for name, bf in bound.extras.items():
        target = bound.schema.field(name).type
        arrays.append(pa.array(np.asarray(bf.evaluate(flat, n_rows)), type=target))
    return pa.RecordBatch.from_arrays(arrays, schema=bound.schema)
