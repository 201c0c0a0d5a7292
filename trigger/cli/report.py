"""Terminal reports shared by the replay commands (local and farm)."""

from __future__ import annotations

import sys
from typing import Any

from trigger.io.quarantine import QuarantineRecord

__all__ = ["exit_status", "print_incident", "print_summary"]


def print_incident(record: QuarantineRecord) -> None:
    """Print one quarantine incident to stderr as it happens."""
    print(f"trigger: quarantined: {record.describe()}", file=sys.stderr, flush=True)


def print_summary(summary: dict[str, Any], *, out_dir: str) -> None:
    """Print the end-of-run table: counts, per-path rates, throughput, latency."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False)
    n_in = max(summary["events_in"], 1)
    table = Table(title=f"trigger replay — menu {summary.get('menu', '')}", show_lines=False)
    table.add_column("path")
    table.add_column("accepted", justify="right")
    table.add_column("fraction", justify="right")
    for name, count in summary["paths"].items():
        table.add_row(name, f"{count:,}", f"{count / n_in:.4%}")
    console.print(table)
    lat = summary["latency_ms"]
    console.print(
        f"events in {summary['events_in']:,}  kept {summary['events_kept']:,} ({summary['kept_fraction']:.3%})  "
        f"rejected {summary['events_rejected']:,}  quarantined {summary['events_quarantined']:,}"
    )
    console.print(
        f"throughput {summary['throughput_events_per_s']:,.0f} events/s, {summary['throughput_mb_per_s']:,.1f} MB/s  "
        f"latency p50 {lat['p50']:.1f} ms  p99 {lat['p99']:.1f} ms  max {lat['max']:.1f} ms  "
        f"peak RSS {summary['peak_rss_bytes'] / 2**20:,.0f} MiB"
    )
    streams = ", ".join(f"{s} {n:,}" for s, n in summary["streams"].items()) or "none"
    console.print(f"streams: {streams}")
    if not summary.get("ledger_ok", True):
        console.print(f"[red]ledger problems: {summary['ledger_problems']}[/red]")
    console.print(f"outputs in {out_dir}/ (summary.json, ledger.jsonl, <stream>/part-*.parquet)")


def exit_status(summary: dict[str, Any], *, out_dir: str) -> int:
    """The exit status of a replay, saying why on stderr when it is not 0.

    Returns:
        3 when input was quarantined, 1 when the ledger does not balance, else 0.
    """
    if summary["events_quarantined"] or summary["files_failed"]:
        print(f"trigger: {summary['events_quarantined']:,} events and {len(summary['files_failed'])} files "
              f"quarantined: see {out_dir}/quarantine.jsonl", file=sys.stderr)
        return 3
    if not summary["ledger_ok"]:
        print("trigger: the ledger does not balance: " + "; ".join(summary["ledger_problems"]), file=sys.stderr)
        return 1
    return 0
