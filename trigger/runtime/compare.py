"""Emulated trigger paths versus the decisions recorded in the file, event by event.

A file mapped with its recorded trigger bits as extra columns (CMS NanoAOD:
``HLT_IsoMu24``...) is read batch by batch; the menu's paths are evaluated on
the event model (vectorized, as the engine does) and each is paired with a
recorded column, by default the one of the same name. Every event lands in one
cell per path: both fired, only the recorded bit, only the emulation, neither.
Events the engine would quarantine (impossible values) are counted apart.

An emulation on offline objects cannot match the online decision exactly;
:data:`EXPLANATIONS` says why, and the disagreeing events are listed with
their leading muon so each can be checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trigger.errors import ConfigError, InputError
from trigger.features.frame import FeatureFrame
from trigger.io.files import expand_inputs
from trigger.io.mapping import EventMapping
from trigger.io.sources import open_source
from trigger.menu.plan import CompiledMenu
from trigger.schema import check_structure, find_bad_events

__all__ = ["EXPLANATIONS", "BitComparison", "PathComparison", "compare_bits"]

#: Why an object-level emulation differs from the recorded online decision.
EXPLANATIONS: dict[str, str] = {
    "only_recorded": (
        "the online path fired but the offline objects fail the emulated cuts: online (HLT L3) and offline "
        "(PF) muon momenta differ by a few percent (different reconstruction, alignment and calibration), so "
        "events near a pt threshold migrate; online isolation (ECAL/HCAL PF clusters and tracker sums, cone "
        "0.3, pileup-corrected with rho) is not the offline pfRelIso04 (cone 0.4, delta-beta); the online muon "
        "may not be among the offline muons at all"),
    "only_emulated": (
        "the offline objects pass but the online path did not fire: its L1 seed (e.g. L1_SingleMu22) did not "
        "fire (coarser L1 pt, gaps in eta/phi coverage), the online muon failed its quality or online "
        "isolation, or the path was prescaled, disabled or different in that run's menu"),
}


@dataclass
class PathComparison:
    """One emulated path against one recorded bit.

    Attributes:
        path: The menu path.
        recorded: The recorded column.
        both: Events where both fired.
        only_recorded: Events where only the recorded bit fired.
        only_emulated: Events where only the emulation fired.
        neither: Events where neither fired.
        disagreements: Up to ``max_examples`` disagreeing events (identity, which side, leading muon).
    """

    path: str
    recorded: str
    both: int = 0
    only_recorded: int = 0
    only_emulated: int = 0
    neither: int = 0
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events(self) -> int:
        """Events compared."""
        return self.both + self.only_recorded + self.only_emulated + self.neither

    @property
    def agreement(self) -> float:
        """Fraction of events where emulation and record agree."""
        return (self.both + self.neither) / self.events if self.events else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts, agreement and examples."""
        return {"path": self.path, "recorded": self.recorded, "events": self.events, "both": self.both,
                "only_recorded": self.only_recorded, "only_emulated": self.only_emulated, "neither": self.neither,
                "agreement": round(self.agreement, 6), "disagreements": self.disagreements}


@dataclass
class BitComparison:
    """The outcome of :func:`compare_bits`.

    Attributes:
        paths: One comparison per paired path.
        events: Events read.
        quarantined: Events excluded because the engine would quarantine them.
        notes: Notes about the inputs (mapping chosen, rows deduplicated).
    """

    paths: list[PathComparison]
    events: int = 0
    quarantined: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report, with the explanations of disagreements."""
        return {"events": self.events, "quarantined": self.quarantined, "notes": self.notes,
                "paths": [p.to_dict() for p in self.paths], "explanations": EXPLANATIONS}


def _leading_muon(frame: FeatureFrame, rows: np.ndarray) -> dict[str, np.ndarray]:
    """pt, eta, iso of the leading muon of ``rows`` (NaN without muons), vectorized."""
    view = frame.collection("muons")
    has = view.counts[rows] > 0
    first = view.offsets[:-1][rows]
    out = {}
    for name in ("pt", "eta", "iso"):
        values = np.full(rows.size, np.nan)
        values[has] = view.field(name)[first[has]]
        out[name] = values
    return out


def _pairs(menu: CompiledMenu, schema: pa.Schema, pairs: Mapping[str, str] | None) -> dict[str, str]:
    if pairs:
        unknown = [p for p in pairs if p not in menu.path_names]
        if unknown:
            raise ConfigError(f"compare: path {unknown[0]!r} is not in menu {menu.name!r}; paths: {', '.join(menu.path_names)}")
        return dict(pairs)
    found = {p: p for p in menu.path_names if p in schema.names}
    if not found:
        raise ConfigError(f"compare: no path of menu {menu.name!r} has a recorded column of the same name; "
                          "pair them explicitly (PATH=COLUMN)")
    return found


def compare_bits(inputs: Sequence[str], *, menu: CompiledMenu, pairs: Mapping[str, str] | None = None,
                 mapping: EventMapping | str | None = None, batch_size: int = 65_536, max_examples: int = 50,
                 table_path: Path | None = None, on_note: Callable[[str], None] | None = None) -> BitComparison:
    """Evaluate menu paths on recorded files and compare them with recorded bits, event by event.

    Args:
        inputs: Files, directories or globs.
        menu: The compiled menu holding the emulated paths.
        pairs: Menu path -> recorded column; default: every path with a column of its name.
        mapping: Mapping onto the event model (default: chosen per file).
        batch_size: Events per batch.
        max_examples: Disagreeing events kept per path in the report.
        table_path: Also write every event's recorded and emulated bits (Parquet) here.
        on_note: Called with each note about an input.

    Returns:
        The comparison.

    Raises:
        ConfigError: No inputs, or a path or recorded column that does not exist.
        InputError: An input that cannot be read (this is an analysis, not a replay:
            it stops rather than quarantines).
    """
    expanded = expand_inputs(inputs)
    if not expanded.files:
        raise ConfigError("compare: no input files: " + "; ".join(str(e) for e in expanded.missing))
    result, paired, writer = BitComparison(paths=[]), None, None
    try:
        for path in expanded.files:
            source = open_source(path, mapping=mapping)
            shards = source.shards()
            for note in source.notes:
                result.notes.append(f"{path}: {note}")
                if on_note:
                    on_note(result.notes[-1])
            for shard in shards:
                for batch in source.read(shard, batch_size=batch_size):
                    if paired is None:
                        paired = _pairs(menu, batch.schema, pairs)
                        sub = CompiledMenu(name=menu.name, version=menu.version, streams={},
                                           paths=[menu.paths[menu.path_names.index(p)] for p in paired])
                        result.paths = [PathComparison(p, c) for p, c in paired.items()]
                    missing = [c for c in paired.values() if c not in batch.schema.names]
                    if missing:
                        raise InputError(f"no recorded column {missing[0]!r} to compare with", source=path,
                                         column=missing[0])
                    check_structure(batch.schema, source=path)
                    good = ~find_bad_events(batch).bad
                    frame = FeatureFrame(batch)
                    emulated = sub.evaluate(frame) & good[:, None]
                    table: dict[str, Any] = {c: batch.column(c).to_numpy() for c in ("run", "luminosity_block", "event")}
                    for j, cmp in enumerate(result.paths):
                        rec = np.asarray(batch.column(cmp.recorded).to_numpy(zero_copy_only=False), dtype=bool) & good
                        emu = emulated[:, j]
                        cmp.both += int(np.count_nonzero(rec & emu))
                        cmp.only_recorded += int(np.count_nonzero(rec & ~emu & good))
                        cmp.only_emulated += int(np.count_nonzero(~rec & emu))
                        cmp.neither += int(np.count_nonzero(~rec & ~emu & good))
                        rows = np.flatnonzero((rec != emu) & good)[: max(0, max_examples - len(cmp.disagreements))]
                        if rows.size:
                            mu = _leading_muon(frame, rows)
                            for k, r in enumerate(rows):  # at most max_examples rows: a report, not the data path
                                cmp.disagreements.append({
                                    "file": path, "run": int(table["run"][r]), "luminosity_block":
                                    int(table["luminosity_block"][r]), "event": int(table["event"][r]),
                                    "fired": "only_recorded" if rec[r] else "only_emulated",
                                    "mu1_pt": round(float(mu["pt"][k]), 3), "mu1_eta": round(float(mu["eta"][k]), 3),
                                    "mu1_iso": round(float(mu["iso"][k]), 4)})
                        table[f"recorded_{cmp.path}"], table[f"emulated_{cmp.path}"] = rec, emu
                    result.events += batch.num_rows
                    result.quarantined += int(np.count_nonzero(~good))
                    if table_path is not None:
                        out = pa.table(table)
                        writer = writer or pq.ParquetWriter(table_path, out.schema)
                        writer.write_table(out)
    finally:
        if writer is not None:
            writer.close()
    return result
