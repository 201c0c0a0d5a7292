"""Expanding the inputs of a run: paths, directories and globs, without duplicates."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from trigger.errors import InputError

__all__ = ["ExpandedInputs", "expand_inputs"]

#: File suffixes taken from a directory.
DATA_SUFFIXES = (".parquet", ".arrow", ".arrows", ".ipc", ".feather", ".root")


@dataclass(frozen=True, slots=True)
class ExpandedInputs:
    """Files to read, and what was set aside while expanding.

    Attributes:
        files: Existing files, in the order given, each once.
        duplicates: Files given more than once (read once; reported).
        missing: Arguments that matched no file, each with the reason.
    """

    files: list[str]
    duplicates: list[str] = field(default_factory=list)
    missing: list[InputError] = field(default_factory=list)


def expand_inputs(args: Iterable[str | os.PathLike[str]]) -> ExpandedInputs:
    """Turn command-line inputs into a list of files.

    A directory contributes its data files (sorted); a glob its matches
    (sorted). A file listed twice (by any path that resolves to it) is read once
    and reported, so that no event is counted twice.

    Args:
        args: Paths, directories or glob patterns.

    Returns:
        The files, duplicates and missing inputs.
    """
    files: list[str] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    missing: list[InputError] = []
    for arg in args:
        text = os.fspath(arg)
        if any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
        elif Path(text).is_dir():
            matches = sorted(str(p) for p in Path(text).iterdir() if p.suffix in DATA_SUFFIXES and p.is_file())
        else:
            matches = [text]
        if not matches:
            missing.append(InputError("no file matches this pattern or directory", source=text))
        for m in matches:
            if not Path(m).is_file():
                missing.append(InputError("no such file", source=m))
                continue
            key = os.path.realpath(m)
            if key in seen:
                duplicates.append(m)
                continue
            seen.add(key)
            files.append(m)
    return ExpandedInputs(files=files, duplicates=duplicates, missing=missing)
