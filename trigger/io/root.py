"""ROOT TTrees through uproot, in chunks, mapped onto the event model.

A ROOT file is never read whole: shards are entry ranges known ahead from the
tree's ``num_entries`` (cut at basket-cluster boundaries shared by the branches
the mapping reads, about ``entries_per_shard`` entries each), and a shard is
read with ``TTree.iterate`` ``batch_size`` entries at a time, only the branches
the mapping needs. Every uproot failure (truncated file, corrupt basket) becomes
an :class:`~trigger.errors.InputError` naming the file, the entry range and, when
known, the branch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from trigger.errors import InputError, MissingDependencyError
from trigger.io.mapping import (
    BranchType,
    Column,
    EventMapping,
    MappedSource,
    choose_mapping,
    columns_from_awkward,
    types_from_uproot,
)
from trigger.io.root_handles import HANDLES, OpenFile

__all__ = ["DEFAULT_ENTRIES_PER_SHARD", "RootSource", "list_trees", "open_root", "open_root_file"]

#: Target entries per shard (the unit of work a farm worker takes).
DEFAULT_ENTRIES_PER_SHARD = 1 << 20


def _uproot() -> Any:
    try:
        import uproot
    except ImportError as err:  # pragma: no cover (a declared dependency)
        raise MissingDependencyError("reading ROOT files needs uproot: pip install 'uproot>=5' awkward") from err
    return uproot


@contextlib.contextmanager
def _reading(path: str, what: str, *, batch: str | None = None, column: str | None = None) -> Iterator[None]:
    """Turn any uproot/awkward failure into an InputError naming the file."""
    try:
        yield
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"cannot {what}: {_one_line(err)}", source=path, batch=batch, column=column) from err


def _one_line(err: BaseException) -> str:
    """uproot's messages span lines; a quarantine record is one line."""
    return f"{type(err).__name__}: " + " ".join(str(err).split())


def _broken_branch(tree: Any, names: Sequence[str], start: int, stop: int) -> str | None:
    """After a failed read: the first branch that fails alone (a loop over branches, error path only)."""
    for name in names:
        try:
            tree[name].array(entry_start=start, entry_stop=stop, library="np")
        except Exception:
            return name
    return None


def open_root_file(path: str) -> Any:
    """``uproot.open``, with failures as one-line InputErrors naming the file.

    Raises:
        InputError: If the file cannot be opened as ROOT.
    """
    uproot = _uproot()
    with _reading(path, "open the ROOT file"):
        return uproot.open(path)


def list_trees(file: Any) -> list[str]:
    """TTree names (without cycle) of an open uproot file, from its keys (no tree is loaded)."""
    return [key for key, cls in file.classnames(cycle=False).items() if cls.startswith("TTree") or cls == "TNtuple"]


def _tree(handle: OpenFile, path: str, name: str | None, *, purpose: str) -> Any:
    trees = list_trees(handle.file)
    if name is None:
        if len(trees) != 1:
            raise InputError(f"the file has {len(trees)} trees ({', '.join(trees) or 'none'}); {purpose} must "
                             "name one with `tree:`", source=path)
        name = trees[0]
    if name not in trees:
        raise InputError(f"no tree {name!r} ({purpose} reads it); trees in the file: {', '.join(trees) or 'none'}",
                         source=path)
    return handle.tree(name)


class RootSource(MappedSource):
    """A ROOT TTree read with uproot and mapped onto the event model.

    Args:
        path: The ROOT file.
        mapping: The mapping (names the tree, or the file has one tree).
        note: Why this mapping.
        entries_per_shard: Target shard size in entries.
        types: The tree's branch types, when already known (skips reading them again).
    """

    format = "root"

    def __init__(self, path: str, *, mapping: EventMapping, note: str | None = None,
                 entries_per_shard: int = DEFAULT_ENTRIES_PER_SHARD,
                 types: dict[str, BranchType] | None = None) -> None:
        super().__init__(path, mapping=mapping, note=note)
        self.entries_per_shard = max(1, int(entries_per_shard))
        self._types: dict[str, BranchType] | None = types

    @contextlib.contextmanager
    def _open(self) -> Iterator[Any]:
        """The mapping's tree, from the process-wide cache of open files."""
        with HANDLES.open(self.path, open_root_file) as handle:
            with _reading(self.path, "find the tree"):
                tree = _tree(handle, self.path, self.mapping.tree, purpose=f"mapping {self.mapping.name!r}")
            yield tree

    def branch_types(self) -> dict[str, BranchType]:
        """The tree's branches and types (from the file's metadata; read once)."""
        if self._types is None:
            with self._open() as tree, _reading(self.path, "read the branch list"):
                self._types = types_from_uproot(tree)
        return self._types

    def _chunks(self) -> list[tuple[int, int]]:
        names = set(self.bound().branches)
        with self._open() as tree, _reading(self.path, "read the basket layout"):
            n = int(tree.num_entries)
            # Cut where every branch read starts a basket, so no basket is decompressed by two shards.
            edges = tree.common_entry_offsets(filter_name=lambda b: b in names) if names else [0, n]
        if not edges or edges[-1] != n:
            edges = [0, n]
        out, start = [], 0
        for edge in edges[1:]:
            if edge - start >= self.entries_per_shard or edge == n:
                if edge > start:
                    out.append((start, edge))
                start = edge
        return out

    def _read_raw(self, start: int, stop: int, *, names: Sequence[str], batch_size: int) -> Iterator[tuple[int, dict[str, Column]]]:
        label = f"entries {start}-{stop}"
        with self._open() as tree:
            if not names:  # only constants: nothing to read, rows still count
                for a in range(start, stop, batch_size):
                    yield min(batch_size, stop - a), {}
                return
            wanted = set(names)  # a callable filter: a list of names is matched as globs, slowly
            chunks = tree.iterate(filter_name=lambda b: b in wanted, entry_start=start, entry_stop=stop,
                                  step_size=batch_size, library="ak", how=dict)
            while True:
                try:
                    arrays = next(chunks, None)
                except Exception as err:
                    branch = _broken_branch(tree, names, start, stop)
                    where = f"branch {branch!r}" if branch else "branches"
                    raise InputError(f"cannot read {where}: {_one_line(err)}", source=self.path,
                                     batch=label, column=branch) from err
                if arrays is None:
                    return
                n = len(next(iter(arrays.values())))
                yield n, columns_from_awkward(arrays, source=self.path)


def open_root(path: str | Path, *, mapping: EventMapping | None = None,
              entries_per_shard: int = DEFAULT_ENTRIES_PER_SHARD) -> RootSource:
    """Open a ROOT file with a mapping, given or chosen among the shipped ones.

    Raises:
        InputError: If the file cannot be opened, or no shipped mapping fits it
            (saying which branches each one misses).
    """
    path = str(path)
    if mapping is not None:
        return RootSource(path, mapping=mapping, note=f"mapping {mapping.name} (given)", entries_per_shard=entries_per_shard)
    cache: dict[str | None, dict[str, BranchType]] = {}
    with HANDLES.open(path, open_root_file) as handle:
        def types_for(m: EventMapping) -> dict[str, BranchType]:
            if m.tree not in cache:
                with _reading(path, "read the branch list"):
                    cache[m.tree] = types_from_uproot(_tree(handle, path, m.tree, purpose=f"mapping {m.name!r}"))
            return cache[m.tree]

        chosen, note = choose_mapping(types_for, source=path)
        known = types_for(chosen)
    return RootSource(path, mapping=chosen, note=note, entries_per_shard=entries_per_shard, types=known)
