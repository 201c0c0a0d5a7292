"""Synthetic datasets on disk: Parquet and Arrow IPC files plus an ``events.json``.

:func:`write_dataset` streams :func:`trigger.io.generator.generate_batches` into
the files, each written atomically, then records the config, the process counts
and the file sizes in :data:`METADATA_NAME` beside them.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trigger.errors import ConfigError, did_you_mean
from trigger.io.generator import (
    PROCESS_COLUMN,
    default_batch_size,
    generate_batches,
    output_schema,
)
from trigger.io.generator_config import PROCESSES, GeneratorConfig, check_count
from trigger.io.sinks import parquet_encoding

__all__ = [
    "FILE_NAMES",
    "METADATA_NAME",
    "write_dataset",
]

#: Output file name per format, and the metadata file written beside them.
FILE_NAMES = {"parquet": "events.parquet", "ipc": "events.arrow"}
METADATA_NAME = "events.json"
_COMPRESSIONS = ("zstd", "lz4", "snappy", "gzip", "none")


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
        batch_size: Events per generated batch; default
            :func:`~trigger.io.generator.default_batch_size`.
        row_group_size: Parquet rows per row group; default twice the batch size.
        compression: Parquet codec: zstd, lz4, snappy, gzip or none.
        start_event: Index of the first event of the stream.

    Returns:
        The data files written, in ``formats`` order (not the metadata file).

    Raises:
        ConfigError: Unknown format or codec, bad counts.
    """
    if not formats:
        raise ConfigError("write_dataset: no format given; expected 'parquet' and/or 'ipc'")
    for f in formats:
        if f not in FILE_NAMES:
            raise ConfigError(f"write_dataset: unknown format {f!r}{did_you_mean(f, FILE_NAMES)}; "
                              "expected parquet or ipc")
    if compression not in _COMPRESSIONS:
        raise ConfigError(f"write_dataset: unknown compression {compression!r}; "
                          f"expected one of {', '.join(_COMPRESSIONS)}")
    batch_size = default_batch_size(config.raw_bytes_per_event) if batch_size is None else batch_size
    check_count("batch_size", batch_size, low=1)
    row_group_size = 2 * batch_size if row_group_size is None else row_group_size
    check_count("row_group_size", row_group_size, low=1)
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
                    # Dictionary-encode only text columns, as the stream sinks do: on every column (the
                    # default) a 1M-event file was 171 MB and read at 3.2M events/s, now 116 MB at 3.7M.
                    pw = stack.enter_context(pq.ParquetWriter(tmp, schema, compression=compression,
                                                              **parquet_encoding(schema)))
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
        # The module that made the events (this one only writes them).
        "generator": generate_batches.__module__, "n_events": n_events, "start_event": start_event,
        "config": config.to_dict(), "process_counts": dict(zip(PROCESSES, counts.tolist(), strict=True)),
        "files": {p.name: p.stat().st_size for p in finals},
        "batch_size": batch_size, "row_group_size": row_group_size, "compression": compression,
    })
    return finals
