"""The event data model: one Arrow schema, its column names, and its validator.

An event is one row. The header (``run``, ``luminosity_block``, ``event``,
``timestamp_ns``) identifies it; physics objects are ``list<struct<...>>``
collections sorted by decreasing pt; ``met_pt``/``met_phi`` are flat; ``raw`` is
an optional opaque ``large_binary`` payload standing for the full readout, which
the filter never parses and copies only for kept events. Extra columns (for
example recorded ``HLT_*`` bits or a generator truth label) are carried through.

Units: GeV for momenta and masses, radians for angles, nanoseconds since the
Unix epoch for ``timestamp_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from trigger.errors import SchemaError, closest_names

__all__ = [
    "COLLECTIONS",
    "EVENT_SCHEMA",
    "HEADER",
    "JET",
    "PARTICLE",
    "RAW",
    "Limits",
    "ValidationReport",
    "Violation",
    "check_structure",
    "event_schema",
    "find_bad_events",
]

#: Event identity and emission time.
HEADER: dict[str, pa.DataType] = {
    "run": pa.uint32(),
    "luminosity_block": pa.uint32(),
    "event": pa.uint64(),
    "timestamp_ns": pa.int64(),
}

#: Muons, electrons and photons share one object layout (photons: charge 0).
PARTICLE = pa.struct(
    [
        ("pt", pa.float32()),
        ("eta", pa.float32()),
        ("phi", pa.float32()),
        ("mass", pa.float32()),
        ("charge", pa.int8()),
        ("iso", pa.float32()),  # relative isolation, dimensionless
    ]
)

#: Jets carry a b-tag discriminant in [0, 1] instead of charge and isolation.
JET = pa.struct(
    [
        ("pt", pa.float32()),
        ("eta", pa.float32()),
        ("phi", pa.float32()),
        ("mass", pa.float32()),
        ("btag", pa.float32()),
    ]
)

#: Object collections, each ``list<struct>`` sorted by decreasing pt.
COLLECTIONS: dict[str, pa.StructType] = {
    "muons": PARTICLE,
    "electrons": PARTICLE,
    "photons": PARTICLE,
    "jets": JET,
}

MET: dict[str, pa.DataType] = {"met_pt": pa.float32(), "met_phi": pa.float32()}

#: The optional opaque readout payload.
RAW = "raw"


def event_schema(*, with_raw: bool = False) -> pa.Schema:
    """Return the Arrow schema of an event batch.

    Args:
        with_raw: Include the ``raw`` large_binary payload column.

    Returns:
        The schema, header first, then collections, MET and (optionally) ``raw``.
    """
    fields = [pa.field(n, t, nullable=False) for n, t in HEADER.items()]
    fields += [pa.field(n, pa.list_(t), nullable=False) for n, t in COLLECTIONS.items()]
    fields += [pa.field(n, t, nullable=False) for n, t in MET.items()]
    if with_raw:
        fields.append(pa.field(RAW, pa.large_binary(), nullable=False))
    return pa.schema(fields)


EVENT_SCHEMA = event_schema()


@dataclass(frozen=True, slots=True)
class Limits:
    """Sanity limits; an event beyond them is quarantined, not filtered.

    Attributes:
        max_objects: Largest plausible multiplicity of any one collection.
        max_abs_eta: Largest plausible |eta| of any object.
        max_pt_gev: Largest plausible pt (or MET) in GeV (beam energy scale).
    """

    max_objects: int = 256
    max_abs_eta: float = 10.0
    max_pt_gev: float = 14_000.0


@dataclass(frozen=True, slots=True)
class Violation:
    """One kind of bad value in one column, with every row that has it.

    Attributes:
        column: Column, or ``collection.field`` for object fields.
        reason: What is wrong, with the expected range.
        rows: Row indices in the batch (sorted, unique).
    """

    column: str
    reason: str
    rows: np.ndarray

    def describe(self, *, source: str | None = None, batch: str | None = None, max_rows: int = 5) -> str:
        """A one-line human description naming file, batch, column and rows."""
        shown = ", ".join(str(int(r)) for r in self.rows[:max_rows])
        more = f" and {len(self.rows) - max_rows} more" if len(self.rows) > max_rows else ""
        where = "".join(
            f"{k} {v}, " for k, v in (("file", source), ("batch", batch)) if v is not None
        )
        return f"{where}column {self.column}: {self.reason} at row(s) {shown}{more}"


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The outcome of :func:`find_bad_events` on one batch.

    Attributes:
        bad: Boolean mask over rows; True for events to quarantine.
        violations: Every violation, grouped by column and reason.
    """

    bad: np.ndarray
    violations: list[Violation] = field(default_factory=list)

    @property
    def reasons(self) -> np.ndarray:
        """Per row, the first violation's ``"column: reason"`` ('' if good).

        Built on request (an object array per batch cost a fifth of validation
        when, as usual, every event is good).
        """
        reasons = np.full(self.bad.size, "", dtype=object)
        for v in reversed(self.violations):  # earlier violations win: written last
            reasons[v.rows] = f"{v.column}: {v.reason}"
        return reasons

    @property
    def n_bad(self) -> int:
        """Number of rows to quarantine."""
        return int(np.count_nonzero(self.bad))


def check_structure(schema: pa.Schema, *, source: str | None = None, batch: str | None = None) -> None:
    """Check that a batch's schema carries the event model's columns and types.

    Extra columns are allowed. ``raw``, when present, must be (large_)binary.

    Args:
        schema: The schema of the batch.
        source: File name, for the message.
        batch: Batch identifier, for the message.

    Raises:
        SchemaError: Listing every missing or mistyped column, with the closest
            present names for missing ones.
    """
    problems: list[str] = []
    first_column: str | None = None
    for f in EVENT_SCHEMA:
        if f.name not in schema.names:
            near = closest_names(f.name, schema.names)
            hint = f" (closest present: {', '.join(near)})" if near else ""
            problems.append(f"missing column {f.name!r} of type {f.type}{hint}")
        elif not schema.field(f.name).type.equals(f.type):
            problems.append(
                f"column {f.name!r} has type {schema.field(f.name).type}, expected {f.type}"
            )
        else:
            continue
        first_column = first_column or f.name
    if RAW in schema.names and not (
        pa.types.is_large_binary(schema.field(RAW).type) or pa.types.is_binary(schema.field(RAW).type)
    ):
        problems.append(f"column 'raw' has type {schema.field(RAW).type}, expected large_binary")
        first_column = first_column or RAW
    if problems:
        raise SchemaError(
            "batch does not follow the event model: "
            + "; ".join(problems)
            + ". Map the file onto the model with a mapping (trigger replay --mapping) "
            "or regenerate it with `trigger generate`.",
            source=source,
            batch=batch,
            column=first_column,
        )


def _float_checks(values: np.ndarray, *, limit: float, nonneg: bool) -> list[tuple[str, np.ndarray]]:
    """Vectorized checks of one float column; returns (reason, bad-element mask).

    The common case (all good) costs two SIMD reductions and no temporary:
    ``min`` and ``max`` propagate NaN, and NaN fails every comparison, so
    ``lo <= min and max <= hi`` is False for NaN, inf and out-of-range values
    alike. Only when something fails are the reasons told apart.
    """
    lo = 0.0 if nonneg else -limit
    if values.size == 0 or (values.min() >= lo and values.max() <= limit):
        return []
    with np.errstate(invalid="ignore"):
        out = []
        finite = np.isfinite(values)
        if not finite.all():
            out.append(("not finite (NaN or inf)", ~finite))
        if nonneg:
            neg = values < 0
            if neg.any():
                out.append(("negative, expected >= 0", neg))
        big = np.abs(values) > limit
        if big.any():
            out.append((f"|value| above {limit:g}", big))
    return out


def find_bad_events(batch: pa.RecordBatch, *, limits: Limits = Limits()) -> ValidationReport:
    """Find events with values no detector produces, vectorized over the batch.

    Checks: nulls in the header, NaN/inf anywhere in floats, negative pt or MET,
    |eta| and pt beyond ``limits``, collections longer than ``limits.max_objects``,
    and collections not sorted by decreasing pt. Assumes :func:`check_structure`
    passed.

    Args:
        batch: An event batch.
        limits: The sanity limits.

    Returns:
        A report with a per-row mask, a per-row reason and grouped violations.
    """
    n = batch.num_rows
    bad = np.zeros(n, dtype=bool)
    violations: list[Violation] = []

    def flag(column: str, reason: str, rows: np.ndarray) -> None:
        rows = np.unique(rows)
        if rows.size == 0:
            return
        violations.append(Violation(column, reason, rows))
        bad[rows] = True

    for name in HEADER:
        col = batch.column(name)
        if col.null_count:
            flag(name, "null, expected a value", np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False)))
    for name in MET:
        values = batch.column(name).to_numpy(zero_copy_only=False)
        limit = limits.max_pt_gev if name == "met_pt" else limits.max_abs_eta
        for reason, mask in _float_checks(values, limit=limit, nonneg=name == "met_pt"):
            flag(name, reason, np.flatnonzero(mask))

    for coll, struct in COLLECTIONS.items():
        lists = batch.column(coll)
        offsets = lists.offsets.to_numpy()
        counts = np.diff(offsets)
        over = counts > limits.max_objects
        if over.any():
            flag(coll, f"more than {limits.max_objects} objects", np.flatnonzero(over))
        values = lists.values
        start, stop = int(offsets[0]), int(offsets[-1])
        if stop == start:
            continue
        for f in struct:
            if not pa.types.is_floating(f.type):
                continue
            arr = values.field(f.name).slice(start, stop - start).to_numpy(zero_copy_only=False)
            limit = {"eta": limits.max_abs_eta, "phi": 4.0}.get(f.name, limits.max_pt_gev)
            for reason, mask in _float_checks(arr, limit=limit, nonneg=f.name in ("pt", "mass")):
                obj = np.flatnonzero(mask) + start
                flag(f"{coll}.{f.name}", reason, np.searchsorted(offsets, obj, side="right") - 1)
            if f.name == "pt":
                # Sorted by decreasing pt within each event: an increase between two
                # objects of the same event is a violation; event boundaries are not.
                rising = arr[1:] > arr[:-1]
                inner = offsets[1:-1] - start
                rising[inner[(inner > 0) & (inner < arr.size)] - 1] = False
                if rising.any():
                    obj = np.flatnonzero(rising) + 1 + start
                    flag(f"{coll}.pt", "objects not sorted by decreasing pt",
                         np.searchsorted(offsets, obj, side="right") - 1)
    return ValidationReport(bad=bad, violations=violations)
