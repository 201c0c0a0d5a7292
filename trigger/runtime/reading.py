"""Reading shards as batch envelopes, with unreadable tails reported instead of raised."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from trigger.errors import InputError
from trigger.io.batch import EventBatch, Shard
from trigger.io.sources import Source

__all__ = ["OnUnreadable", "iter_batches", "iter_shard"]

OnUnreadable = Callable[[Shard, int, str, InputError], None]
"""Called with ``(shard, first unread row, batch id it would have had, error)``."""


def iter_shard(source: Source, index: int, shard: Shard, *, batch_size: int,
               on_unreadable: OnUnreadable) -> Iterator[EventBatch]:
    """Read one shard of ``source`` (input number ``index``) as :class:`EventBatch` envelopes.

    Batch ids are ``"<index>:<row_start>"``: the same whichever thread or process reads
    the shard. A shard that fails part-way has its unread rows reported to
    ``on_unreadable`` (so they are counted as quarantined), and the iteration ends.
    """
    row = shard.row_start
    try:
        for data in source.read(shard, batch_size=batch_size):
            stop = row + data.num_rows
            yield EventBatch(f"{index}:{row}", source.path, row, stop, data, time.time_ns())
            row = stop
        if row != shard.row_stop:
            raise InputError(f"shard ended at row {row}, expected {shard.row_stop}", source=source.path)
    except InputError as err:
        if row < shard.row_stop:
            on_unreadable(shard, row, f"{index}:{row}", err)


def iter_batches(sources: list[Source], shards: dict[int, list[Shard]], *, batch_size: int,
                 on_unreadable: OnUnreadable) -> Iterator[EventBatch]:
    """Read every shard of every source, in order (see :func:`iter_shard`)."""
    for index, source in enumerate(sources):
        for shard in shards.get(index, []):
            yield from iter_shard(source, index, shard, batch_size=batch_size, on_unreadable=on_unreadable)
