"""Seeded, vectorized synthetic events in the event model.

Determinism: the stream of events of a seed is cut into fixed blocks of
:data:`BLOCK_EVENTS`; block ``b`` is drawn by its own numpy generator seeded
with ``SeedSequence(seed, spawn_key=(0, b))``. Event ``i`` is therefore the same
whatever the batch size, the number of events asked for, or ``start_event``.
The ``raw`` payload comes from a counter-based Philox stream positioned at the
event index, so only the requested events' bytes are ever made.

The configuration lives in :mod:`trigger.io.generator_config` (re-exported
here); files are written by :mod:`trigger.io.dataset`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from trigger.io.generator_config import (
    PROCESSES,
    GeneratorConfig,
    ProcessMix,
    check_count,
)
from trigger.io.physics import BlockObjects
from trigger.io.processes import PROCESS_SAMPLERS, pileup_jets, stray_photons
from trigger.schema import COLLECTIONS, event_schema

__all__ = [
    "BLOCK_EVENTS",
    "PROCESSES",
    "PROCESS_COLUMN",
    "GeneratorConfig",
    "ProcessMix",
    "default_batch_size",
    "generate_batches",
    "output_schema",
]

#: Events per independently seeded block (the unit of determinism).
BLOCK_EVENTS = 65_536
#: The truth-label column (dictionary<int8, string>) added after the event model.
PROCESS_COLUMN = "process"
#: (minimum pt in GeV, maximum |eta|) per collection: the detector acceptance.
_ACCEPTANCE = {"muons": (3.0, 2.5), "electrons": (5.0, 2.5), "photons": (10.0, 2.5), "jets": (15.0, 4.7)}
#: Largest float32 below pi: phi must stay in [-pi, pi) after rounding to float32.
_PHI_MAX = np.nextafter(np.float32(np.pi), np.float32(0.0))
_LABEL_FIELD = pa.field(PROCESS_COLUMN, pa.dictionary(pa.int8(), pa.string()), nullable=False)
_TARGET_BATCH_BYTES = 64 << 20


def output_schema(config: GeneratorConfig) -> pa.Schema:
    """The event model (with ``raw`` if the config makes it) plus the ``process`` label."""
    return event_schema(with_raw=config.raw_bytes_per_event > 0).append(_LABEL_FIELD)


def default_batch_size(raw_bytes_per_event: int) -> int:
    """Events per batch so that one batch stays near 64 MiB (at most one block)."""
    return max(1, min(BLOCK_EVENTS, _TARGET_BATCH_BYTES // (raw_bytes_per_event + 200)))


def _collection(out: BlockObjects, name: str, struct: pa.StructType) -> pa.ListArray:
    """Acceptance cuts, sort by (event, -pt), and one list<struct> array, vectorized."""
    cols = out.columns(name, tuple(f.name for f in struct))
    pt, eta = cols["pt"].astype(np.float32), cols["eta"].astype(np.float32)
    pt_min, eta_max = _ACCEPTANCE[name]
    keep = np.flatnonzero((pt >= pt_min) & (np.abs(eta) < eta_max))
    event = cols["event"][keep]
    # Positive float32 bit patterns order like the values: one int64 key sorts by
    # event, then by decreasing pt, in a single argsort.
    pt_bits = pt[keep].view(np.uint32).astype(np.int64)
    order = keep[np.argsort((event << 32) | (0xFFFFFFFF - pt_bits))]
    offsets = np.zeros(out.n_events + 1, dtype=np.int32)
    np.cumsum(np.bincount(event, minlength=out.n_events), out=offsets[1:])
    children = []
    for f in struct:
        values = {"pt": pt, "eta": eta}.get(f.name, cols[f.name])[order].astype(f.type.to_pandas_dtype())
        if f.name == "phi":
            np.clip(values, -_PHI_MAX, _PHI_MAX, out=values)
        children.append(pa.array(values))
    items = pa.StructArray.from_arrays(children, fields=list(struct))
    return pa.ListArray.from_arrays(pa.array(offsets), items, type=pa.list_(struct))


def _block(config: GeneratorConfig, block_index: int) -> pa.RecordBatch:
    """All BLOCK_EVENTS events of one block (without ``raw``)."""
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0, block_index)))
    n = BLOCK_EVENTS
    label = rng.choice(len(PROCESSES), size=n, p=config.mix.probabilities()).astype(np.int8)
    out = BlockObjects(n)
    for k, sampler in enumerate(PROCESS_SAMPLERS.values()):
        sampler(rng, np.flatnonzero(label == k), out)
    pileup_jets(rng, n, config.pileup_mean_jets, out)
    stray_photons(rng, n, config.photon_probability, out)
    met_pt, met_phi = out.missing_pt(rng)
    index = block_index * n + np.arange(n, dtype=np.int64)
    columns: dict[str, Any] = {
        "run": np.full(n, config.run, dtype=np.uint32),
        "luminosity_block": (1 + index // config.events_per_lumi).astype(np.uint32),
        "event": (index + 1).astype(np.uint64),
        "timestamp_ns": config.start_time_ns + index * config.event_spacing_ns,
        "met_pt": met_pt.astype(np.float32),
        "met_phi": np.clip(met_phi.astype(np.float32), -_PHI_MAX, _PHI_MAX),
    }
    columns.update({c: _collection(out, c, s) for c, s in COLLECTIONS.items()})
    arrays = [pa.array(columns[f.name]) if isinstance(columns[f.name], np.ndarray) else columns[f.name]
              for f in event_schema()]
    arrays.append(pa.DictionaryArray.from_arrays(pa.array(label), pa.array(PROCESSES)))
    return pa.RecordBatch.from_arrays(arrays, schema=event_schema().append(_LABEL_FIELD))


def _raw(config: GeneratorConfig, first_event: int, n: int) -> pa.LargeBinaryArray:
    """``n`` pseudo-random payloads from event ``first_event`` on: one buffer + offsets."""
    size = config.raw_bytes_per_event
    # The payloads are consecutive slices of one byte stream; Philox4x64 makes 32
    # bytes per counter step and can jump to any step, so no skipped bytes are made.
    start, skip = divmod(first_event * size, 32)
    key = np.random.SeedSequence(config.seed, spawn_key=(1,)).generate_state(2, np.uint64)
    bits = np.random.Philox(key=key)
    bits.advance(start)
    steps = -(-(skip + n * size) // 32)
    data = bits.random_raw(steps * 4).view(np.uint8)[skip : skip + n * size]
    offsets = np.arange(n + 1, dtype=np.int64) * size
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    return batches[0] if len(batches) == 1 else pa.concat_batches(batches)



def generate_batches(
    n_events: int,
    *,
    config: GeneratorConfig,
    batch_size: int | None = None,
    start_event: int = 0,
) -> Iterator[pa.RecordBatch]:
    """Yield events ``start_event .. start_event + n_events - 1`` of the config's stream.

    Args:
        n_events: Number of events (>= 0).
        config: The generator configuration.
        batch_size: Events per batch (the last may be smaller); default
            :func:`default_batch_size`.
        start_event: Index of the first event (lets shards generate in parallel).

    Yields:
        Record batches following :func:`output_schema` exactly.

    Raises:
        ConfigError: A negative count or a non-positive batch size.
    """
    check_count("n_events", n_events, low=0)
    check_count("start_event", start_event, low=0)
    batch_size = default_batch_size(config.raw_bytes_per_event) if batch_size is None else batch_size
    check_count("batch_size", batch_size, low=1)
    schema = output_schema(config)
    pending: list[pa.RecordBatch] = []
    pending_rows, pos, end, emitted = 0, start_event, start_event + n_events, start_event
    while pos < end:
        block, lo = divmod(pos, BLOCK_EVENTS)
        take = min(BLOCK_EVENTS - lo, end - pos)
        pending.append(_block(config, block).slice(lo, take))
        pending_rows += take
        pos += take
        while pending_rows >= batch_size or (pos == end and pending_rows):
            k = min(batch_size, pending_rows)
            table = pa.Table.from_batches(pending)
            batch = _concat(table.slice(0, k).to_batches())
            pending = [b for b in table.slice(k).to_batches() if b.num_rows]
            pending_rows -= k
            arrays = batch.columns
            if config.raw_bytes_per_event:
                arrays = [*arrays[:-1], _raw(config, emitted, k), arrays[-1]]
            emitted += k
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
