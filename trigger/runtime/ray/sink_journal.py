"""The sink actors' commit journal: which batch ids each committed group of files holds.

A sink commits the kept rows of several batches in one file per stream (group
commit, see :mod:`trigger.runtime.ray.sink`), so a file name no longer says
which batch it holds and rewriting a batch no longer replaces its file. Exactly
once by batch id rests on this journal instead: sink ``i`` appends one line per
committed group to ``DIR/.farm/sink-<i>.jsonl`` *after* the group's files were
renamed into place, and acknowledges the group's batches only after that line.

- A batch id in any journal is on disk exactly once: a later write of it (a
  retry, a re-dispatch, a resumed driver) is acknowledged without writing.
- A group file without a journal line was renamed by a sink that died before
  journaling it: its batches were never acknowledged and will be written again,
  so the file is removed (:func:`remove_orphans`) before anyone writes.
- A line torn by a crash counts as absent (its files are orphans) and is cut
  off before the next line is appended, so it cannot swallow that line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["GROUP_GLOB", "Committed", "JournalWriter", "group_file", "journal_path", "load_journals",
           "remove_orphans", "reset_group_outputs"]

#: Committed group files of every stream, relative to the output directory.
GROUP_GLOB = "*/group-*.parquet"
_GROUP_NAME = re.compile(r"^group-(\d+)-(\d+)\.parquet$")


def journal_path(out_dir: Path, sink_index: int) -> Path:
    """The journal sink ``sink_index`` appends to."""
    return Path(out_dir) / ".farm" / f"sink-{sink_index}.jsonl"


def group_file(out_dir: Path, stream: str, sink_index: int, seq: int) -> Path:
    """Where group ``seq`` of sink ``sink_index`` puts the kept events of ``stream``."""
    return Path(out_dir) / stream / f"group-{sink_index}-{seq:06d}.parquet"


@dataclass
class Committed:
    """What every sink journal of a directory says was committed.

    Attributes:
        batch_ids: Batch id -> the group (``"<sink>-<seq>"``) holding its rows.
        files: Group files (relative to the output directory) some journal lists.
        next_seq: Sink index -> the first group number it has not used.
    """

    batch_ids: dict[str, str] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)
    next_seq: dict[int, int] = field(default_factory=dict)


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # torn by a crash: its files are orphans, its batches were never acknowledged
        if isinstance(rec, dict) and "group" in rec:
            out.append(rec)
    return out


def load_journals(out_dir: Path) -> Committed:
    """Read every sink journal of ``out_dir`` (the number of sinks may have changed since)."""
    found = Committed()
    for path in sorted((Path(out_dir) / ".farm").glob("sink-*.jsonl")):
        for rec in _lines(path):
            sink, seq = (int(x) for x in str(rec["group"]).split("-", 1))
            found.next_seq[sink] = max(found.next_seq.get(sink, 0), seq + 1)
            found.files.update(rec.get("files", {}).values())
            for batch_id in rec.get("batch_ids", []):
                found.batch_ids[batch_id] = rec["group"]
    return found


def remove_orphans(out_dir: Path, committed: Committed, *, sink_index: int | None = None) -> list[Path]:
    """Remove group files no journal lists (renamed, then the sink died before journaling them).

    Args:
        out_dir: The run's output directory.
        committed: What the journals hold (:func:`load_journals`).
        sink_index: Only this sink's files (a restarted sink: the others are
            live and may be between a rename and its journal line); None: all
            (the driver, before any sink starts).

    Returns:
        The files removed.
    """
    removed = []
    for path in Path(out_dir).glob(GROUP_GLOB):
        found = _GROUP_NAME.match(path.name)
        if found is None or (sink_index is not None and int(found.group(1)) != sink_index):
            continue
        if path.relative_to(out_dir).as_posix() not in committed.files:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def reset_group_outputs(out_dir: Path) -> int:
    """Forget the group files and journals a previous run left (a run without ``--resume``).

    The new run's ledger starts empty, so those files belong to no record; left
    in place they would duplicate the events this run writes again.

    Returns:
        Files removed.
    """
    paths = [*Path(out_dir).glob(GROUP_GLOB), *(Path(out_dir) / ".farm").glob("sink-*.jsonl")]
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


class JournalWriter:
    """Appends committed groups to one sink's journal, one JSON line each.

    Args:
        path: The journal (created with its directory).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")  # noqa: SIM115 - held open for every append, closed by close()
        size = self._fh.tell()
        if size:
            with open(self.path, "rb") as fh:  # cut a line torn by a crash: appended to, it would hide the next
                text = fh.read()
            keep = text.rfind(b"\n") + 1
            if keep != size:
                self._fh.truncate(keep)
                self._fh.seek(keep)

    def append(self, record: dict[str, Any]) -> None:
        """Write one line and hand it to the OS (a process crash after this keeps it)."""
        self._fh.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self._fh.flush()

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

