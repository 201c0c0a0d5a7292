"""Small results files in the layouts the benchmarks write (for the report, plot and CLI tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SAMPLES", "write_samples"]

ENV = {"date": "2026-01-01T00:00:00Z", "commit": "abc1234", "python": "3.11.7", "cpu": "Test CPU", "cpus": 2,
       "cpus_usable": 2, "memory_gib": 23.5, "versions": {"trigger": "0.1.0", "pyarrow": "26.0.1"}}


def _spread(m: float) -> dict[str, float]:
    return {"median": m, "min": 0.9 * m, "max": 1.1 * m}


SAMPLES: dict[str, dict[str, Any]] = {
    "replay": {
        "events": 1_000_000, "batch_size": 65_536, "raw_bytes_per_event": 0, "repeats": 3,
        "stage_events_per_s": {"read_ipc": 1.5e8, "read_parquet": 3.1e6, "validate": 2.9e7, "features": 2.1e7,
                               "decisions": 9.9e6, "write": 6.3e6},
        "back_to_back_events_per_s": {"ipc": 2.88e6, "parquet": 1.5e6},
        "end_to_end_events_per_s": {"ipc_1core": _spread(2.09e6), "parquet_1core": _spread(1.3e6),
                                    "ipc_2core": _spread(3.0e6), "parquet_2core": _spread(1.65e6)},
        "strawman": {"events": 65_536, "events_per_s": 82_098.0, "agrees_with_engine": True},
        "ratios": {"ipc_1core_vs_back_to_back": 0.73, "ipc_2core_vs_1core": 1.44, "ipc_1core_vs_strawman": 25.5},
        "goals": {"1core_vs_back_to_back": 0.9, "2core_vs_1core": 1.8, "1core_vs_strawman": 50},
    },
    "peers": {
        "events": 1_000_000, "repeats": 5,
        "peers": {"engine": {"events": 1_000_000, "events_per_s": {**_spread(4.6e6), "runs": 5},
                             "cpu_us_per_event": 0.215},
                  "awkward": {"events": 1_000_000, "events_per_s": {**_spread(7.3e5), "runs": 5},
                              "cpu_us_per_event": 1.37},
                  "strawman": {"events": 65_536, "events_per_s": {**_spread(7.65e4), "runs": 5},
                               "cpu_us_per_event": 13.1}},
        "agrees_with_engine": {"awkward": True, "strawman": True},
        "ratios": {"engine_vs_awkward": 6.4, "engine_vs_strawman": 60.7},
    },
    "io": {
        "events": 200_000, "raw_bytes_per_event": 256,
        "formats": {f: {"events_per_s": r, "events_per_cpu_s": r, "arrow_mb_per_s": r / 2e3, "file_mb_per_s": r / 3e3}
                    for f, r in (("parquet", 3e6), ("ipc", 1.5e8), ("root", 5e5))},
        "root_vs_uproot": {"uproot_iterate": {"events_per_s": 6e5, "events_per_cpu_s": 6e5}},
    },
    "payload": {
        "batch_size": 2048, "decide_max_over_min": 1.05, "copy_bytes_per_s": 6.5e9,
        "points": [{"raw_bytes_per_event": s, "events": n, "kept": n // 14, "kept_fraction": 1 / 14,
                    "read_us_per_event": 0.01, "decide_us_per_event": 0.5 + 0.01 * i,
                    "engine_us_per_event": 0.8 + s / 14 / 6.5e3, "copied_bytes_per_event": s / 14 + 20}
                   for i, (s, n) in enumerate(((0, 200_000), (1000, 200_000), (1_000_000, 2048)))],
    },
    "scaling": {
        "rates": ["40kHz", "120kHz"], "batch_size": 4096,
        "points": [{"sources": s, "filters": s, "driver_cpu_us_per_batch": 500.0 + s,
                    "driver_fixed_cpu_fraction": 0.02 * s, "driver_cpu_us_per_batch_overall": 1200.0 + 100 * s,
                    "batches_per_s": 30.0, "latency_ms": {"p50": 40.0, "p99": 90.0, "max": 120.0},
                    "latency_histogram": {"lower_edge_ms": [10.0, 20.0, 40.0], "upper_edge_ms": [10.2, 20.5, 41.0],
                                          "events": [100, 4000, 20]}}
                   for s in (1, 2, 4)],
    },
    "farm": {
        "quick": False,
        "throughput": {"farm_1_filter_events_per_s": 1.6e6, "farm_2_filters_events_per_s": 2.8e6,
                       "farm_ratio_2_vs_1": 1.75, "local_2_workers_events_per_s": 3.0e6,
                       "parquet": {"farm_events_per_s": 1.5e6, "local_events_per_s": 1.6e6,
                                   "ray_data_events_per_s": 4e5, "farm_vs_ray_data": 3.75}},
        "latency_vs_load": [{"load": x, "rate_events_per_s": x * 2.8e6, "p50_ms": 30 + 100 * x, "p99_ms": 60 + 300 * x,
                             "mean_batch_service_ms": 25.0, "deadtime_fraction": max(0.0, x - 1)}
                            for x in (0.1, 0.5, 1.2)],
    },
    "inference": {
        "models_one_core": {"anomaly_ae": {"provider": "cpu", "batches": {
            "1024": {"onnxruntime_events_per_s": 2e6, "scorer_events_per_s": 1e6},
            "65536": {"onnxruntime_events_per_s": 4e6, "scorer_events_per_s": 2e6}}}},
        "replay_one_core": {"default": {"events_per_s": 2e6, "ratio_to_default_wall": 1.0},
                            "default+anomaly_ae": {"events_per_s": 1.8e6, "ratio_to_default_wall": 0.9},
                            "anomaly_ae_vs_same_rate_cut": {"ratio_wall": 0.95}},
    },
}


def write_samples(directory: Path, names: tuple[str, ...] = tuple(SAMPLES)) -> Path:
    """Write the named samples as ``<directory>/<name>.json`` (with an environment) and return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / f"{name}.json").write_text(json.dumps({"environment": ENV, **SAMPLES[name]}))
    return directory
