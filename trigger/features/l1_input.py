"""Padded per-event object tensors and the 57-float AXOL1TL-style L1 model input.

:func:`object_matrix` turns one or more pt-sorted collections into a dense
``(n_events, n_objects, n_fields)`` float32 tensor: the collections are merged
per event by decreasing pt, the ``n_objects`` leading objects kept, the rest
zero. :func:`l1_input` builds the 57 inputs of an AXOL1TL-style anomaly
autoencoder from it: MET, 4 e/gamma, 4 muons and 10 jets, each (pt, eta, phi).

The merge is vectorized: each object gets a sortable uint64 key (event index in
the high 32 bits, a descending-pt bit pattern in the low 32), and one stable
argsort of the concatenated keys orders the objects by (event, -pt). The
collections are already pt-sorted, so the concatenation is a few sorted runs
and the (Tim)sort behind ``kind="stable"`` merges them in close to linear time.
Ties in pt keep collection order (the first collection named wins), then the
original order. Everything is per event, so a row does not depend on its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trigger.errors import SchemaError, closest_names
from trigger.features.frame import CollectionView, FeatureFrame

__all__ = ["L1_INPUT_NAMES", "L1_LAYOUT", "l1_input", "merged_slots", "object_matrix"]

#: (name prefix, collections merged by pt, number of objects) after MET.
L1_LAYOUT: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("eg", ("electrons", "photons"), 4),
    ("mu", ("muons",), 4),
    ("jet", ("jets",), 10),
)

_L1_FIELDS = ("pt", "eta", "phi")

#: Column names of :func:`l1_input`, in order (57 of them).
L1_INPUT_NAMES: tuple[str, ...] = ("met_pt", "met_eta", "met_phi") + tuple(
    f"{prefix}{i}_{field}" for prefix, _, n in L1_LAYOUT for i in range(n) for field in _L1_FIELDS
)


def _descending_pt_key(pt: np.ndarray) -> np.ndarray:
    """uint32 whose ascending order is the descending order of ``pt`` (float32).

    The IEEE bit pattern, with the sign handled, is monotone in the value; the
    complement reverses it. ``+ 0`` turns -0.0 into +0.0 so the two tie.
    """
    bits = (pt.astype(np.float32, copy=False) + np.float32(0)).view(np.uint32)
    flip = np.where(bits >> np.uint32(31), np.uint32(0xFFFFFFFF), np.uint32(0x80000000))
    return ~(bits ^ flip)


def _kept(
    view: CollectionView, n_objects: int, events: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: first object index, objects kept (at most ``n_objects``), and their running start."""
    if events is None:
        starts, counts = view.offsets[:-1], view.counts
    else:
        starts = view.offsets[events]
        counts = view.offsets[events + 1] - starts
    kept = np.minimum(counts, n_objects)
    kept_starts = np.zeros(kept.size + 1, dtype=np.int64)
    np.cumsum(kept, out=kept_starts[1:])  # integer: exact
    return starts, kept, kept_starts


def _leading_ranks(
    view: CollectionView, n_objects: int, events: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``n_objects`` leading objects of each event: (object index, output row, rank), row-major.

    Only these can reach the leading ``n_objects`` of a merge, so the rest are
    never touched (a ragged arange over the kept objects only). With
    ``events``, only those events are taken and output row ``i`` is event
    ``events[i]``: a model running on seed survivors reads their objects
    straight from the batch, without gathering them into a smaller batch first.
    """
    starts, kept, kept_starts = _kept(view, n_objects, events)
    row = np.repeat(np.arange(kept.size, dtype=np.int64), kept)
    rank = np.arange(kept_starts[-1], dtype=np.int64) - kept_starts[:-1][row]
    return starts[row] + rank, row, rank


def merged_slots(
    views: Sequence[CollectionView], *, n_objects: int, events: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Place the objects of several collections in per-event slots by decreasing pt.

    Args:
        views: The collections, in tie-break order (first wins on equal pt).
        n_objects: Slots per event.
        events: Only these events (indices into the batch, increasing), or all.

    Returns:
        Per collection, ``(index, row, slot)`` of its objects that land in a
        slot < ``n_objects``: flat object index in the view, output row (the
        event's position in ``events``, or its index), slot.
    """
    parts = [_leading_ranks(view, n_objects, events) for view in views]
    if len(parts) == 1:
        return parts
    n_events = views[0].n_events if events is None else events.size
    event = np.concatenate([p[1] for p in parts])
    key = event.astype(np.uint64) << np.uint64(32)
    key |= np.concatenate([_descending_pt_key(v.field("pt")[p[0]]) for v, p in zip(views, parts)])
    # Each part is sorted by (event, -pt) already: the stable sort merges a few runs.
    order = np.argsort(key, kind="stable")
    starts = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(np.bincount(event, minlength=n_events), out=starts[1:])  # integer: exact
    slot = np.empty_like(event)
    slot[order] = np.arange(event.size, dtype=np.int64) - starts[:-1][event[order]]
    out = []
    bounds = np.cumsum([0] + [p[0].size for p in parts])
    for (index, ev, _), lo, hi in zip(parts, bounds[:-1], bounds[1:]):
        s = slot[lo:hi]
        keep = np.flatnonzero(s < n_objects)
        out.append((index[keep], ev[keep], s[keep]))
    return out


def _check_collections(frame: FeatureFrame, collections: Sequence[str]) -> None:
    names = frame.schema.names
    for name in collections:
        if name not in names:
            near = closest_names(name, names)
            raise SchemaError(
                f"no collection {name!r} in the batch"
                + (f" (closest: {', '.join(near)})" if near else "")
                + "; collections of the event model are muons, electrons, photons, jets",
                column=name,
            )


def object_matrix(
    frame: FeatureFrame,
    *,
    collections: Sequence[str],
    n_objects: int,
    fields: Sequence[str],
    fill_missing: bool = False,
    events: np.ndarray | None = None,
) -> np.ndarray:
    """A dense, zero-padded tensor of the leading objects of merged collections.

    Args:
        frame: The batch.
        collections: Collection names merged by decreasing pt; on equal pt the
            earlier-named collection comes first.
        n_objects: Object slots per event; extra objects are dropped.
        fields: Struct fields to copy, in order (e.g. ``("pt", "eta", "phi")``).
        fill_missing: If True, a field that a collection lacks (``btag`` for
            muons) reads as 0 for its objects; if False that is an error.
        events: Only these events (indices into the batch, increasing): row
            ``i`` of the result is event ``events[i]``. None: every event.

    Returns:
        float32 array ``(n_rows, n_objects, len(fields))``; absent objects are 0.

    Raises:
        ValueError: If ``n_objects`` < 1, or ``collections`` or ``fields`` is empty.
        SchemaError: If a collection is not in the batch, or lacks a field and
            ``fill_missing`` is False.
    """
    if n_objects < 1 or not collections or not fields:
        raise ValueError(
            f"object_matrix needs n_objects >= 1 and at least one collection and field; "
            f"got n_objects={n_objects}, collections={list(collections)}, fields={list(fields)}"
        )
    _check_collections(frame, collections)
    views = [frame.collection(name) for name in collections]
    if fill_missing:
        # A field no collection has is a typo, not a padding request.
        for name in fields:
            if all(name not in view.field_names for view in views):
                views[0].field(name)  # raises SchemaError naming the closest fields
    n_rows = frame.n_events if events is None else events.size
    out = np.zeros((n_rows, n_objects * len(fields)), dtype=np.float32)
    _fill(out, 0, views, n_objects=n_objects, fields=fields, fill_missing=fill_missing, events=events)
    return out.reshape(n_rows, n_objects, len(fields))


def _leading_single(
    view: CollectionView, n_objects: int, events: np.ndarray | None, *, stride: int, col: int, n_fields: int
) -> tuple[np.ndarray, np.ndarray]:
    """One collection's leading objects: (flat object index, flat destination of their first field).

    The destination in a row-major ``(n_rows, stride)`` array is ``row * stride +
    col + rank * n_fields``. Both are an ``arange`` plus a per-event constant
    repeated over the event's objects: five passes over the objects, against ten
    for rows and ranks first (:func:`_leading_ranks`).
    """
    starts, kept, base = _kept(view, n_objects, events)
    position = np.arange(base[-1], dtype=np.int64)
    base = base[:-1]
    index = position + np.repeat(starts - base, kept)
    row_start = np.arange(kept.size, dtype=np.int64) * stride + col - base * n_fields
    return index, position * n_fields + np.repeat(row_start, kept)


def _fill(
    out: np.ndarray,
    col: int,
    views: Sequence[CollectionView],
    *,
    n_objects: int,
    fields: Sequence[str],
    fill_missing: bool,
    events: np.ndarray | None,
) -> None:
    """Write the leading objects of merged ``views`` into ``out[:, col:]``, (slot, field) row-major.

    ``out`` is C-contiguous and zero where no object lands. Writing in place
    spares a block per collection and its copy into the model input.
    """
    stride, n_fields = out.shape[1], len(fields)
    if len(views) == 1:
        placed = [(views[0], *_leading_single(views[0], n_objects, events, stride=stride, col=col, n_fields=n_fields))]
    else:
        placed = [(view, index, row * stride + col + slot * n_fields)
                  for view, (index, row, slot) in zip(views, merged_slots(views, n_objects=n_objects, events=events))]
    flat = out.reshape(-1)
    for view, index, dest in placed:
        for j, name in enumerate(fields):
            if fill_missing and name not in view.field_names:
                continue
            flat[j:][dest] = view.field(name)[index]  # a view from j on: no dest + j pass


def l1_input(frame: FeatureFrame, *, events: np.ndarray | None = None) -> np.ndarray:
    """The 57 inputs of an AXOL1TL-style L1 anomaly model, one row per event.

    Layout (names in :data:`L1_INPUT_NAMES`): MET (pt, 0, phi); the 4 leading
    e/gamma objects (electrons and photons merged by pt, electrons first on
    ties); the 4 leading muons; the 10 leading jets; each (pt, eta, phi), zero
    where the object is absent.

    Args:
        frame: The batch.
        events: Only these events (indices into the batch, increasing): row
            ``i`` is event ``events[i]``. None: every event.

    Returns:
        float32 array ``(n_rows, 57)``.
    """
    n_rows = frame.n_events if events is None else events.size
    out = np.zeros((n_rows, len(L1_INPUT_NAMES)), dtype=np.float32)
    met_pt, met_phi = frame.column("met_pt"), frame.column("met_phi")
    out[:, 0] = met_pt if events is None else met_pt[events]
    out[:, 2] = met_phi if events is None else met_phi[events]
    col = 3
    for _, collections, n in L1_LAYOUT:
        _check_collections(frame, collections)
        views = [frame.collection(name) for name in collections]
        _fill(out, col, views, n_objects=n, fields=_L1_FIELDS, fill_missing=False, events=events)
        col += n * len(_L1_FIELDS)
    return out
