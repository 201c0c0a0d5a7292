"""One columnar view of a chunk of any input: flat or jagged numpy columns.

A mapping is applied to :class:`Column` objects, whatever the file format:
uproot gives awkward arrays, Parquet and Arrow IPC give Arrow arrays, and both
become a flat ``values`` array plus, for jagged branches, ``offsets`` rebased
to 0. The conversions are views wherever the source layout allows (no copy of
the values for uproot's NumpyArray content or a null-free Arrow buffer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trigger.errors import InputError

__all__ = ["BranchType", "Column", "columns_from_arrow", "columns_from_awkward", "types_from_arrow", "types_from_uproot"]


@dataclass(frozen=True, slots=True)
class BranchType:
    """What a branch (or column) holds, known before reading its data.

    Attributes:
        kind: ``flat`` (one value per row), ``jagged`` (a list of values per
            row) or ``other`` (strings, nested structures, objects).
        dtype: numpy dtype of the values (None for ``other``).
        text: The type as the file states it (for messages).
    """

    kind: str
    dtype: np.dtype | None
    text: str

    @property
    def numeric(self) -> bool:
        """True for numbers and booleans (what mappings can read)."""
        return self.dtype is not None and self.dtype.kind in "biuf"


@dataclass(frozen=True, slots=True)
class Column:
    """The data of one branch for a chunk of rows.

    Attributes:
        values: Flat: one value per row. Jagged: one value per element, all rows concatenated.
        offsets: Jagged only: int64 row boundaries into ``values``, starting at 0.
    """

    values: np.ndarray
    offsets: np.ndarray | None = None

    @property
    def jagged(self) -> bool:
        """True for a list per row."""
        return self.offsets is not None

    @property
    def counts(self) -> np.ndarray:
        """Elements per row (jagged only)."""
        if self.offsets is None:
            raise TypeError("a flat column has no counts")
        return np.diff(self.offsets)


def _native(values: np.ndarray) -> np.ndarray:
    """Arrow and the engine need native byte order; ROOT stores big-endian."""
    return values if values.dtype.isnative else values.astype(values.dtype.newbyteorder("="))


def types_from_uproot(tree: object) -> dict[str, BranchType]:
    """Branch types of an uproot TTree, from its interpretations (no data read).

    Args:
        tree: An ``uproot.TTree``.

    Returns:
        Branch name -> type, in the tree's order.
    """
    import uproot

    out: dict[str, BranchType] = {}
    for branch in tree.branches:  # type: ignore[attr-defined]
        interp = branch.interpretation
        text = str(getattr(branch, "typename", interp))
        if isinstance(interp, uproot.interpretation.numerical.AsDtype):
            kind = "flat" if interp.to_dtype.shape == () else "other"  # fixed-size arrays: unsupported
            out[branch.name] = BranchType(kind, np.dtype(interp.to_dtype.base) if kind == "flat" else None, text)
        elif isinstance(interp, uproot.interpretation.jagged.AsJagged) and isinstance(
            interp.content, uproot.interpretation.numerical.AsDtype
        ) and interp.content.to_dtype.shape == ():
            out[branch.name] = BranchType("jagged", np.dtype(interp.content.to_dtype), text)
        else:
            out[branch.name] = BranchType("other", None, text)
    return out


def _arrow_numpy_dtype(t: pa.DataType) -> np.dtype | None:
    if pa.types.is_boolean(t):
        return np.dtype(bool)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return np.dtype(t.to_pandas_dtype())
    return None


def types_from_arrow(schema: pa.Schema) -> dict[str, BranchType]:
    """Column types of an Arrow schema (Parquet or IPC), in the same terms as ROOT branches."""
    out: dict[str, BranchType] = {}
    for f in schema:
        t = f.type
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            dt = _arrow_numpy_dtype(t.value_type)
            out[f.name] = BranchType("jagged" if dt is not None else "other", dt, str(t))
        else:
            dt = _arrow_numpy_dtype(t)
            out[f.name] = BranchType("flat" if dt is not None else "other", dt, str(t))
    return out


def _arrow_column(name: str, arr: pa.Array, *, source: str | None) -> Column:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        raise InputError(f"{arr.null_count} null value(s); a mapping needs a value in every row",
                         source=source, column=name)
    if isinstance(arr, (pa.ListArray, pa.LargeListArray)):
        offsets = arr.offsets.to_numpy().astype(np.int64)
        child = arr.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        if child.null_count:
            raise InputError(f"{child.null_count} null element(s) inside the lists", source=source, column=name)
        return Column(child.to_numpy(zero_copy_only=False), offsets - offsets[0])
    return Column(arr.to_numpy(zero_copy_only=False))


def columns_from_arrow(batch: pa.RecordBatch, names: Iterable[str], *, source: str | None = None) -> dict[str, Column]:
    """Columns of an Arrow batch as :class:`Column` views.

    Raises:
        InputError: If a column holds nulls (naming the file and column).
    """
    return {n: _arrow_column(n, batch.column(n), source=source) for n in names}


def columns_from_awkward(arrays: Mapping[str, object], *, source: str | None = None) -> dict[str, Column]:
    """Columns from uproot's awkward arrays (one per branch) as :class:`Column` views.

    Raises:
        InputError: If a branch is neither a number per row nor a list of numbers per row.
    """
    import awkward as ak

    out: dict[str, Column] = {}
    for name, array in arrays.items():
        layout = ak.to_layout(array)
        if isinstance(layout, ak.contents.NumpyArray):
            out[name] = Column(_native(np.asarray(layout.data)))
            continue
        if isinstance(layout, (ak.contents.ListOffsetArray, ak.contents.ListArray)):
            layout = layout.to_ListOffsetArray64(True)
            offsets = np.asarray(layout.offsets, dtype=np.int64)
            content = layout.content
            if isinstance(content, ak.contents.NumpyArray) and content.parameter("__array__") is None:
                values = np.asarray(content.data)[offsets[0]:offsets[-1]]
                out[name] = Column(_native(values), offsets - offsets[0])
                continue
        raise InputError(f"branch holds {array.type if hasattr(array, 'type') else type(array).__name__}; "  # type: ignore[attr-defined]
                         "a mapping reads numbers or lists of numbers", source=source, column=name)
    return out
