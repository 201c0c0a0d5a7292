"""Seeded, vectorized synthetic events in the event model, and datasets of them.

Determinism: the stream of events of a seed is cut into fixed blocks of
:data:`BLOCK_EVENTS`; block ``b`` is drawn by its own numpy generator seeded
with ``SeedSequence(seed, spawn_key=(0, b))``. Event ``i`` is therefore the same
whatever the batch size, the number of events asked for, or ``start_event``.
The ``raw`` payload comes from a counter-based Philox stream positioned at the
event index, so only the requested events' bytes are ever made.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trigger.errors import ConfigError, did_you_mean
from trigger.io.physics import PROCESS_SAMPLERS, BlockObjects, pileup_jets, stray_photons
from trigger.schema import COLLECTIONS, event_schema

__all__ = [
    "BLOCK_EVENTS",
    "FILE_NAMES",
    "METADATA_NAME",
    "PROCESSES",
    "PROCESS_COLUMN",
    "GeneratorConfig",
    "ProcessMix",
    "default_batch_size",
    "generate_batches",
    "output_schema",
    "write_dataset",
]

#: Events per independently seeded block (the unit of determinism).
BLOCK_EVENTS = 65_536
#: Process names, in the order of the ``process`` dictionary.
PROCESSES: tuple[str, ...] = tuple(PROCESS_SAMPLERS)
#: The truth-label column (dictionary<int8, string>) added after the event model.
PROCESS_COLUMN = "process"
#: Output file name per format, and the metadata file written beside them.
FILE_NAMES = {"parquet": "events.parquet", "ipc": "events.arrow"}
METADATA_NAME = "events.json"
#: (minimum pt in GeV, maximum |eta|) per collection: the detector acceptance.
_ACCEPTANCE = {"muons": (3.0, 2.5), "electrons": (5.0, 2.5), "photons": (10.0, 2.5), "jets": (15.0, 4.7)}
#: Largest float32 below pi: phi must stay in [-pi, pi) after rounding to float32.
_PHI_MAX = np.nextafter(np.float32(np.pi), np.float32(0.0))
_LABEL_FIELD = pa.field(PROCESS_COLUMN, pa.dictionary(pa.int8(), pa.string()), nullable=False)
_TARGET_BATCH_BYTES = 64 << 20
_COMPRESSIONS = ("zstd", "lz4", "snappy", "gzip", "none")


def _fail(message: str) -> NoReturn:
    raise ConfigError(message)


def _real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ProcessMix:
    """Relative fractions of each process (normalized when sampling).

    Raises:
        ConfigError: A fraction is negative, not finite or not a number, or all are 0.
    """

    multijet: float = 0.90
    zmumu: float = 0.03
    wenu: float = 0.03
    ttbar: float = 0.03
    exotic: float = 0.01

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            if not _real(value) or value < 0:
                _fail(f"process mix: fraction of {name!r} is {value!r}; expected a finite number >= 0 "
                      f"(for example {name}=0.03)")
        if sum(self.as_dict().values()) <= 0:
            _fail("process mix: all fractions are 0; give at least one process a positive fraction "
                  "(for example multijet=0.9,zmumu=0.1)")

    @classmethod
    def from_mapping(cls, fractions: Mapping[str, float]) -> ProcessMix:
        """Build a mix from ``{process: fraction}``; processes not named get 0.

        Raises:
            ConfigError: An unknown process name (with the closest known names).
        """
        for name in fractions:
            if name not in PROCESSES:
                _fail(f"process mix: unknown process {name!r}{did_you_mean(name, PROCESSES)} "
                      f"(known: {', '.join(PROCESSES)})")
        return cls(**{p: fractions.get(p, 0.0) for p in PROCESSES})

    @classmethod
    def parse(cls, text: str) -> ProcessMix:
        """Parse ``"multijet=0.9,zmumu=0.05,..."``; processes not named get 0.

        Raises:
            ConfigError: Malformed item, bad number, repeated or unknown process.
        """
        fractions: dict[str, float] = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            name, sep, value = (s.strip() for s in item.partition("="))
            if not sep:
                _fail(f"process mix {text!r}: item {item!r} is not NAME=FRACTION (e.g. zmumu=0.03)")
            if name in fractions:
                _fail(f"process mix {text!r}: process {name!r} is given twice")
            try:
                fractions[name] = float(value)
            except ValueError:
                _fail(f"process mix {text!r}: fraction {value!r} of {name!r} is not a number")
        if not fractions:
            _fail(f"process mix {text!r} is empty; expected e.g. multijet=0.9,zmumu=0.1")
        return cls.from_mapping(fractions)

    def as_dict(self) -> dict[str, float]:
        """The raw fractions by process name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def probabilities(self) -> np.ndarray:
        """Normalized fractions in :data:`PROCESSES` order (float64, sums to 1)."""
        p = np.array([getattr(self, name) for name in PROCESSES], dtype=np.float64)
        return p / p.sum()


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that defines a synthetic event stream (same config, same events).

    Attributes:
        seed: Non-negative seed of the stream.
        mix: Process fractions.
        pileup_mean_jets: Mean number of soft pileup jets per event (Poisson).
        raw_bytes_per_event: Size of the opaque ``raw`` payload; 0 omits the column.
        run: Run number written in every event.
        events_per_lumi: Events per luminosity block.
        event_spacing_ns: Nominal time between events (10 us: a 100 kHz L1 rate).
        start_time_ns: ``timestamp_ns`` of event 0 (fixed so reruns are identical).
        photon_probability: Chance that an event carries a stray photon.

    Raises:
        ConfigError: A value out of range.
    """

    seed: int = 1
    mix: ProcessMix = field(default_factory=ProcessMix)
    pileup_mean_jets: float = 3.0
    raw_bytes_per_event: int = 0
    run: int = 1
    events_per_lumi: int = 10_000
    event_spacing_ns: int = 10_000
    start_time_ns: int = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
    photon_probability: float = 0.05

    def __post_init__(self) -> None:
        ints = {"seed": (0, 2**63), "raw_bytes_per_event": (0, 2**31), "run": (0, 2**32 - 1),
                "events_per_lumi": (1, 2**40), "event_spacing_ns": (0, 10**12),
                "start_time_ns": (0, 2**62)}
        for name, (lo, hi) in ints.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                _fail(f"generator config: {name} is {value!r}; expected an integer in [{lo}, {hi}]")
        for name, hi in (("pileup_mean_jets", 100.0), ("photon_probability", 1.0)):
            value = getattr(self, name)
            if not _real(value) or not 0 <= value <= hi:
                _fail(f"generator config: {name} is {value!r}; expected a number in [0, {hi:g}]")
        if not isinstance(self.mix, ProcessMix):
            _fail(f"generator config: mix is {type(self.mix).__name__}; expected a ProcessMix "
                  "(use ProcessMix.parse('multijet=0.9,zmumu=0.1'))")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the configuration."""
        return asdict(self)


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


def _check_count(name: str, value: object, *, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        _fail(f"{name} is {value!r}; expected an integer >= {low}")


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
    _check_count("n_events", n_events, low=0)
    _check_count("start_event", start_event, low=0)
    batch_size = default_batch_size(config.raw_bytes_per_event) if batch_size is None else batch_size
    _check_count("batch_size", batch_size, low=1)
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


class _ParquetRowGroups:
    """Regroup a batch stream into Parquet row groups of exactly ``rows`` rows."""

    def __init__(self, writer: pq.ParquetWriter, rows: int) -> None:
        self._writer, self._rows = writer, rows
        self._pending: list[pa.RecordBatch] = []
        self._n = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._n += batch.num_rows
        while self._n >= self._rows:
            table = pa.Table.from_batches(self._pending)
            self._writer.write_table(table.slice(0, self._rows), row_group_size=self._rows)
            self._pending = [b for b in table.slice(self._rows).to_batches() if b.num_rows]
            self._n -= self._rows

    def flush(self) -> None:
        if self._n:
            self._writer.write_table(pa.Table.from_batches(self._pending), row_group_size=self._rows)
        self._pending, self._n = [], 0


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def write_dataset(
    n_events: int,
    out_dir: str | os.PathLike[str],
    *,
    config: GeneratorConfig,
    formats: tuple[str, ...] = ("parquet", "ipc"),
    batch_size: int | None = None,
    row_group_size: int | None = None,
    compression: str = "zstd",
    start_event: int = 0,
) -> list[Path]:
    """Write a synthetic dataset, streaming, each file atomically (``*.tmp`` then rename).

    Writes ``events.parquet`` (row groups of ``row_group_size``, ``compression``)
    and/or ``events.arrow`` (Arrow IPC file, uncompressed so it can be memory
    mapped, batches of ``batch_size``), then :data:`METADATA_NAME` beside them
    with the config, the process counts and the file sizes.

    Args:
        n_events: Number of events.
        out_dir: Output directory (created if missing).
        config: The generator configuration.
        formats: Any of ``"parquet"`` and ``"ipc"``.
        batch_size: Events per generated batch; default :func:`default_batch_size`.
        row_group_size: Parquet rows per row group; default twice the batch size.
        compression: Parquet codec: zstd, lz4, snappy, gzip or none.
        start_event: Index of the first event of the stream.

    Returns:
        The data files written, in ``formats`` order (not the metadata file).

    Raises:
        ConfigError: Unknown format or codec, bad counts.
    """
    if not formats:
        _fail("write_dataset: no format given; expected 'parquet' and/or 'ipc'")
    for f in formats:
        if f not in FILE_NAMES:
            _fail(f"write_dataset: unknown format {f!r}{did_you_mean(f, FILE_NAMES)}; expected parquet or ipc")
    if compression not in _COMPRESSIONS:
        _fail(f"write_dataset: unknown compression {compression!r}; expected one of {', '.join(_COMPRESSIONS)}")
    batch_size = default_batch_size(config.raw_bytes_per_event) if batch_size is None else batch_size
    _check_count("batch_size", batch_size, low=1)
    row_group_size = 2 * batch_size if row_group_size is None else row_group_size
    _check_count("row_group_size", row_group_size, low=1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    finals = [out / FILE_NAMES[f] for f in dict.fromkeys(formats)]
    tmps = [p.with_name(p.name + ".tmp") for p in finals]
    schema = output_schema(config)
    counts = np.zeros(len(PROCESSES), dtype=np.int64)
    try:
        with contextlib.ExitStack() as stack:
            sinks = []
            for tmp in tmps:
                if tmp.name.startswith(FILE_NAMES["parquet"]):
                    pw = stack.enter_context(pq.ParquetWriter(tmp, schema, compression=compression))
                    groups = _ParquetRowGroups(pw, row_group_size)
                    stack.callback(groups.flush)  # runs before the writer closes
                    sinks.append(groups.write)
                else:
                    sinks.append(stack.enter_context(pa.ipc.new_file(tmp, schema)).write_batch)
            for batch in generate_batches(n_events, config=config, batch_size=batch_size,
                                          start_event=start_event):
                labels = batch.column(PROCESS_COLUMN).indices.to_numpy()
                counts += np.bincount(labels, minlength=len(PROCESSES))
                for sink in sinks:
                    sink(batch)
        for tmp, final in zip(tmps, finals, strict=True):
            os.replace(tmp, final)
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise
    _write_json(out / METADATA_NAME, {
        "generator": __name__, "n_events": n_events, "start_event": start_event,
        "config": config.to_dict(), "process_counts": dict(zip(PROCESSES, counts.tolist(), strict=True)),
        "files": {p.name: p.stat().st_size for p in finals},
        "batch_size": batch_size, "row_group_size": row_group_size, "compression": compression,
    })
    return finals
