"""The filter actor: holds an engine, decides batches, hands kept rows to a sink.

A filter actor builds its engine once (from the menu text, see
:mod:`trigger.runtime.ray.engine_spec`) and then decides one batch at a time
(``max_concurrency=1``: the other in-flight batches its credits allow wait in
Ray's queue at the actor, already in the object store). It returns a small
:class:`~trigger.runtime.ray.messages.FilterResult` to the source that sent the
batch and passes the kept streams (and quarantined rows) straight to a sink
actor; the reference to that write travels back in the result as the batch's
acknowledgement. Event data never goes through the driver.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa

from trigger.engine.outcome import BatchOutcome
from trigger.errors import InputError
from trigger.io.quarantine import QuarantineRecord
from trigger.runtime.heap import freeze_startup_objects, keep_heap_warm
from trigger.runtime.ray.messages import BatchMeta, FilterResult, safe_name
from trigger.runtime.ray.transport import pack, unpack
from trigger.runtime.report import incident_of as outcome_incident

__all__ = ["FilterActor", "incident_of"]


def incident_of(meta: BatchMeta, outcome: BatchOutcome) -> tuple[QuarantineRecord | None, pa.RecordBatch | None]:
    """The quarantine record and bad rows of an outcome (as the local recorder logs them).

    Returns:
        ``(record, rows)``; ``(None, None)`` when nothing was quarantined; rows are
        None for a refused batch (the caller passes the whole batch).
    """
    record = outcome_incident(meta.batch_id, meta.source, meta.row_start, meta.row_stop, outcome)
    if record is None or outcome.error is not None:
        return record, None
    return record, outcome.quarantined


class FilterActor:
    """Decides batches with the menu's engine (wrap with ``ray.remote`` to use).

    Args:
        filter_id: This actor's number in the pool.
        engine_factory: Builds the engine (e.g. an :class:`EngineSpec`).
        sinks: Sink actor handles; a batch's outputs go to ``sinks[crc32(batch_id) % len]``.
    """

    def __init__(self, filter_id: int, engine_factory: Callable[[], Any], sinks: list[Any]) -> None:
        self.filter_id = filter_id
        keep_heap_warm()  # before the engine allocates anything
        self.engine = engine_factory()
        self.sinks = list(sinks)
        self._warm_up()
        self.batches = 0
        self.busy_s = 0.0

    def _warm_up(self) -> None:
        """Run the engine once on a one-event batch before taking work.

        The first call of an engine costs tens of milliseconds (lazy imports,
        first allocations); paid here it does not land in the latency of the first
        real batch, where the autoscaler would read it as overload.
        """
        from trigger.testing import make_batch

        try:
            self.engine.process(make_batch([{}]), batch_id="warm-up")
        except Exception as err:
            logging.getLogger(__name__).info("filter %s: engine warm-up skipped: %s", self.filter_id, err)

    def warm(self, packed: pa.Buffer | pa.Table) -> int:
        """Take a probe batch through the call path (no decision, no output): its first use costs ~100 ms."""
        return unpack(packed).num_rows

    def ready(self) -> dict[str, Any]:
        """Who and where this actor is (resolves once the engine is built).

        Called once by the pool in the actor's own process, which then freezes
        what it built (:func:`~trigger.runtime.heap.freeze_startup_objects`): a
        full collection during a run paused decisions 50-60 ms.
        """
        import ray

        freeze_startup_objects()
        return {"filter_id": self.filter_id, "pid": os.getpid(), "node_id": ray.get_runtime_context().get_node_id(),
                "path_names": list(self.engine.path_names)}

    def process(self, meta: BatchMeta, packed: pa.Buffer | pa.Table) -> FilterResult:
        """Decide one batch and send its kept rows to a sink.

        Args:
            meta: The batch's envelope.
            packed: The events as :func:`~trigger.runtime.ray.transport.pack` made them,
                resolved from the object store.

        Returns:
            The counts; ``ack`` resolves when the sink committed the outputs.
        """
        t0 = time.perf_counter()
        try:
            batch = unpack(packed)
        except InputError as err:  # a file slice the filter could not read: quarantined, as a bad shard is
            return self._unreadable(meta, err)
        outcome = self.engine.process(batch, batch_id=meta.batch_id, source=meta.source)
        decided_ns = time.time_ns()
        service_s = time.perf_counter() - t0
        incident, rows = incident_of(meta, outcome)
        if incident is not None and outcome.error is not None:
            rows = batch
        if rows is not None and rows.num_rows:
            incident = replace(incident, data_file=f"quarantine/{safe_name(meta.batch_id)}.arrow")
        ack = None
        if outcome.streams or (rows is not None and rows.num_rows):
            sink = self.sinks[zlib.crc32(meta.batch_id.encode()) % len(self.sinks)]
            ack = sink.write.remote(
                meta.batch_id,
                {s: pack(b) for s, b in outcome.streams.items()},
                pack(rows) if rows is not None and rows.num_rows else None,
            )
        self.batches += 1
        self.busy_s += service_s
        return FilterResult(
            batch_id=meta.batch_id, filter_id=self.filter_id, n_in=outcome.n_in, n_kept=outcome.n_kept,
            n_rejected=outcome.n_rejected, n_quarantined=outcome.n_quarantined, path_counts=outcome.path_counts,
            streams={s: b.num_rows for s, b in outcome.streams.items()},
            error=None if outcome.error is None else str(outcome.error),
            incident=incident, decided_ns=decided_ns, service_s=service_s, ack=ack,
        )

    def _unreadable(self, meta: BatchMeta, err: InputError) -> FilterResult:
        n = meta.num_rows
        self.batches += 1
        incident = QuarantineRecord(meta.source, meta.batch_id, meta.row_start, meta.row_stop, n, err.column,
                                    err.reason)
        return FilterResult(batch_id=meta.batch_id, filter_id=self.filter_id, n_in=n, n_kept=0, n_rejected=0,
                            n_quarantined=n, path_counts=np.zeros(len(self.engine.path_names), dtype=np.int64), streams={},
                            error=str(err), incident=incident, decided_ns=time.time_ns(), service_s=0.0)
