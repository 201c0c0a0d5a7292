"""Open ROOT files kept for reuse, a bounded number at a time.

Reading a TTree's metadata is slow for wide trees (a NanoAOD tree of 2,600
branches takes ~0.5 s to deserialize), and a source opens its file several
times: to choose a mapping, to list shards, to read each shard. The cache keeps
the last ``limit`` files (and their trees) open; a file is closed only when it
is evicted and no reader is using it, so the number of open descriptors stays
bounded however many files a run lists. A file that changed on disk (size or
modification time) is opened afresh.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["HANDLES", "HandleCache", "OpenFile"]


class OpenFile:
    """An open file and the trees read from it so far.

    Args:
        file: The uproot file (``ReadOnlyDirectory``).
    """

    def __init__(self, file: Any) -> None:
        self.file = file
        self.users = 0
        self._trees: dict[str, Any] = {}
        self._lock = threading.Lock()

    def tree(self, name: str) -> Any:
        """The tree ``name``, deserialized once."""
        with self._lock:
            if name not in self._trees:
                self._trees[name] = self.file[name]
            return self._trees[name]


class HandleCache:
    """At most ``limit`` idle open files, least recently used evicted first.

    Args:
        limit: Files kept open while nobody uses them.
    """

    def __init__(self, *, limit: int = 16) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._open: OrderedDict[tuple[str, int, int], OpenFile] = OrderedDict()

    @staticmethod
    def _key(path: str) -> tuple[str, int, int]:
        st = os.stat(path)
        return os.path.realpath(path), st.st_mtime_ns, st.st_size

    def _evict(self) -> None:
        idle = [k for k, v in self._open.items() if v.users == 0]
        for key in idle[: max(0, len(self._open) - self.limit)]:
            self._open.pop(key).file.close()

    @contextlib.contextmanager
    def open(self, path: str, opener: Callable[[str], Any]) -> Iterator[OpenFile]:
        """Use the open file for ``path``, opening it with ``opener`` when not cached.

        Raises:
            Whatever ``opener`` raises (the file is then not cached).
        """
        try:
            key = self._key(path)
        except OSError:  # gone or unreadable: let the opener say so, nothing to cache
            yield OpenFile(opener(path))
            return
        with self._lock:
            entry = self._open.get(key)
            if entry is not None:
                self._open.move_to_end(key)
                entry.users += 1
        if entry is None:
            fresh = OpenFile(opener(path))
            with self._lock:
                entry = self._open.setdefault(key, fresh)
                entry.users += 1
            if entry is not fresh:  # another thread opened it meanwhile
                fresh.file.close()
        try:
            yield entry
        finally:
            with self._lock:
                entry.users -= 1
                self._evict()

    def close_all(self) -> None:
        """Close every idle file (open ones close when their last reader is done)."""
        with self._lock:
            for key in [k for k, v in self._open.items() if v.users == 0]:
                self._open.pop(key).file.close()


#: The process-wide cache used by :mod:`trigger.io.root`.
HANDLES = HandleCache()
