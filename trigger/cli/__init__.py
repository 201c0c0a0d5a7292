"""The ``trigger`` command line: one module per subcommand, each with ``add_parser``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trigger import __version__
from trigger.errors import TriggerError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by tests to check manifest entrypoints)."""
    from trigger.cli import (
        bench,
        compare_bits,
        farm,
        generate,
        inspect,
        k8s,
        menu,
        models,
        plan,
        replay,
    )

    parser = argparse.ArgumentParser(
        prog="trigger",
        description="A near-real-time trigger filter farm for particle detectors.",
    )
    parser.add_argument("--version", action="version", version=f"trigger {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (replay, generate, farm, k8s, inspect, compare_bits, models, menu, bench, plan):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Exit status: 0 success, 1 error (message on stderr), 2 usage error,
    3 the run finished but quarantined input.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TriggerError as err:
        print(f"trigger: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("trigger: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
