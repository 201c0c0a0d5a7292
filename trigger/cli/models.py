"""``trigger models train|info``: train the shipped models; describe model files."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from trigger.errors import ConfigError, MissingDependencyError, ModelError

__all__ = ["add_parser", "run"]

_RECIPE_NAMES = ("anomaly_ae", "ttbar_deepsets")  # trigger.models_train.recipes.RECIPES, without importing torch


def add_parser(subparsers: Any) -> None:
    """Add the ``models`` subcommand and its ``train`` and ``info`` actions."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "models", help="train the shipped models, or describe ONNX model files",
        description="Train the shipped ONNX models on generated events (needs the 'train' extra), or "
                    "describe model files: inputs, outputs, sha256, provider, card metrics.")
    sub = p.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="train, export and evaluate models; write .onnx, card and ROC plot",
                       description="Deterministic for a seed (one thread). Writes <name>.onnx and <name>.json "
                                   "to --out, <name>.md and <name>_roc.png to --cards.")
    t.add_argument("names", nargs="*", metavar="NAME", help=f"models to train: {', '.join(_RECIPE_NAMES)} "
                                                            "(default: all)")
    t.add_argument("--seed", type=int, default=1, help="training seed (default 1)")
    t.add_argument("--out", default="models-out", help="directory for .onnx and .json (default models-out)")
    t.add_argument("--cards", default=None, help="directory for .md and .png (default: --out)")
    t.add_argument("--events", type=int, default=None, help="training events (default: per model)")
    t.add_argument("--epochs", type=int, default=None, help="training epochs (default: per model)")
    t.add_argument("--eval-events", type=int, default=None, help="events per held-out sample (default: per model)")
    i = sub.add_parser("info", help="describe model files (default: the shipped models)")
    i.add_argument("models", nargs="*", metavar="MODEL", help="an .onnx file or the name of a shipped model")
    i.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to ``train`` or ``info``."""
    if args.models_action == "train":
        return _train(args)
    return _info(args)


def _train(args: argparse.Namespace) -> int:
    names = list(args.names) or list(_RECIPE_NAMES)
    for name in names:
        if name not in _RECIPE_NAMES:
            raise ConfigError(f"unknown model {name!r}; trainable models: {', '.join(_RECIPE_NAMES)}")
    try:
        from trigger.models_train.recipes import train_model
    except ImportError as err:
        raise MissingDependencyError(f"training needs {err.name or 'the training packages'}: "
                                     "pip install 'trigger[train]' (PyTorch CPU, onnx, matplotlib)") from None
    out = Path(args.out)
    cards = Path(args.cards) if args.cards else out
    command = "trigger models train " + shlex.join(sys.argv[3:] if sys.argv[1:3] == ["models", "train"]
                                                   else [*names, "--seed", str(args.seed)])
    for name in names:
        card = train_model(name, seed=args.seed, out_dir=out, card_dir=cards, n_train=args.events,
                           epochs=args.epochs, n_eval=args.eval_events, command=command,
                           log=lambda m: print(m, file=sys.stderr))
        print(f"{name}: {out / card['file']} sha256 {card['sha256']}")
    return 0


def _describe(target: str) -> dict[str, Any]:
    from trigger.inference import (
        ModelSession,
        SessionConfig,
        package_models_dir,
        sha256_bytes,
    )

    path = Path(target)
    if not path.is_file():
        shipped = package_models_dir() / f"{target}.onnx"
        if not shipped.is_file():
            raise ModelError(f"no model file {target!r} and no shipped model of that name "
                             f"(shipped: {', '.join(p.stem for p in sorted(package_models_dir().glob('*.onnx')))})")
        path = shipped
    data = path.read_bytes()
    session = ModelSession(data, name=path.stem, file=str(path), config=SessionConfig(warmup_rows=0))
    info: dict[str, Any] = {
        "file": str(path), "sha256": sha256_bytes(data), "size_bytes": len(data),
        "inputs": [s.describe() for s in session.inputs], "outputs": [s.describe() for s in session.outputs],
        "metadata": session.metadata, "provider": session.report.describe(),
    }
    card = path.with_suffix(".json")
    if card.is_file():
        doc = json.loads(card.read_text(encoding="utf-8"))
        info["card"] = {"sha256_matches": doc.get("sha256") == info["sha256"],
                        "summary": doc.get("summary"), "comparison": doc.get("comparison"),
                        "signals": {k: {"roc_auc": v["roc_auc"], "efficiency_at_1pct": v["efficiency"].get("0.01")}
                                    for k, v in doc.get("evaluation", {}).get("signals", {}).items()}}
    return info


def _info(args: argparse.Namespace) -> int:
    from trigger.inference import package_models_dir

    targets = list(args.models) or [str(p) for p in sorted(package_models_dir().glob("*.onnx"))]
    infos = [_describe(t) for t in targets]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    for info in infos:
        print(f"{info['file']}\n  sha256   {info['sha256']}  ({info['size_bytes']:,} bytes)")
        print(f"  inputs   {'; '.join(info['inputs'])}\n  outputs  {'; '.join(info['outputs'])}")
        meta = info["metadata"]
        print(f"  kind     {meta.get('trigger.kind', '-')}  input {meta.get('trigger.input', '-')}")
        print(f"  runtime  {info['provider']}")
        card = info.get("card")
        if card:
            if not card["sha256_matches"]:
                print("  card     WARNING: the card beside it describes another file (sha256 differs)")
            for name, sig in card["signals"].items():
                print(f"  {name:<8} ROC AUC {sig['roc_auc']:.4f}, efficiency at 1% background "
                      f"{100 * sig['efficiency_at_1pct']:.2f}%")
            print(f"  {card['comparison']}")
    return 0
