"""Writing event-model batches as a NanoAOD-like ROOT file with uproot (tests, benchmarks).

The branches are the ones the shipped ``cms_nanoaod`` mapping reads (``run``,
``luminosityBlock``, ``event``, ``nMuon`` + ``Muon_pt``..., ``MET_pt``...), so
a written file replays through the same path as real NanoAOD. Each batch
becomes one basket per branch (``TTree.extend``). Flat numeric or boolean extra
columns (``HLT_*`` bits) are written as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from trigger.schema import COLLECTIONS

__all__ = ["NANOAOD_NAMES", "write_nanoaod"]

#: Collection -> (NanoAOD prefix, event-model field -> NanoAOD field).
NANOAOD_NAMES: dict[str, tuple[str, dict[str, str]]] = {
    "muons": ("Muon", {"pt": "pt", "eta": "eta", "phi": "phi", "mass": "mass", "charge": "charge",
                       "iso": "pfRelIso04_all"}),
    "electrons": ("Electron", {"pt": "pt", "eta": "eta", "phi": "phi", "mass": "mass", "charge": "charge",
                               "iso": "pfRelIso03_all"}),
    "photons": ("Photon", {"pt": "pt", "eta": "eta", "phi": "phi", "mass": "mass", "iso": "pfRelIso03_all"}),
    "jets": ("Jet", {"pt": "pt", "eta": "eta", "phi": "phi", "mass": "mass", "btag": "btagDeepFlavB"}),
}
_HEADER = {"run": ("run", np.uint32), "luminosity_block": ("luminosityBlock", np.uint32), "event": ("event", np.uint64)}


def _branches(batch: pa.RecordBatch, *, extras: bool) -> dict[str, Any]:
    import awkward as ak

    out: dict[str, Any] = {}
    for col, (name, dtype) in _HEADER.items():
        out[name] = batch.column(col).to_numpy().astype(dtype)
    for coll, (prefix, names) in NANOAOD_NAMES.items():
        lists = batch.column(coll)
        offsets = lists.offsets.to_numpy()
        counts = np.diff(offsets)
        values = lists.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        fields = {}
        for field, nano in names.items():
            flat = values.field(field).to_numpy(zero_copy_only=False)
            if field == "charge":
                flat = flat.astype(np.int32)  # NanoAOD stores charge as int32
            fields[nano] = ak.unflatten(flat, counts)
        out[prefix] = ak.zip(fields)  # uproot writes n<prefix> and <prefix>_<field>
    out["MET_pt"] = batch.column("met_pt").to_numpy()
    out["MET_phi"] = batch.column("met_phi").to_numpy()
    if extras:
        known = {"run", "luminosity_block", "event", "timestamp_ns", "met_pt", "met_phi", "raw", *COLLECTIONS}
        for f in batch.schema:
            if f.name not in known and (pa.types.is_boolean(f.type) or pa.types.is_integer(f.type)
                                        or pa.types.is_floating(f.type)):
                out[f.name] = batch.column(f.name).to_numpy(zero_copy_only=False)
    return out


def write_nanoaod(batches: Iterable[pa.RecordBatch], path: str | Path, *, tree: str = "Events",
                  extras: bool = True, compression: str | None = "zlib") -> Path:
    """Write event-model batches as a NanoAOD-like ROOT file.

    Args:
        batches: Batches following the event model (extra columns allowed).
        path: Output file (replaced).
        tree: Tree name.
        extras: Also write flat numeric/bool extra columns.
        compression: ``zlib``, ``lz4``, ``zstd`` or None (uncompressed).

    Returns:
        The path written.
    """
    import uproot

    codec = None if compression is None else {"zlib": uproot.ZLIB(1), "lz4": uproot.LZ4(1),
                                               "zstd": uproot.ZSTD(1)}[compression]
    path = Path(path)
    with uproot.recreate(path, compression=codec) as file:
        out = None
        for batch in batches:
            branches = _branches(batch, extras=extras)
            if out is None:  # mktree: assigning a dict would write an RNTuple in uproot >= 5.7
                out = file.mktree(tree, {k: (v.dtype if isinstance(v, np.ndarray) else v.type)
                                         for k, v in branches.items()})
            out.extend(branches)
    return path
