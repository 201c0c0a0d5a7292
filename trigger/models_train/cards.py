"""Model cards: a JSON record (shipped beside the .onnx) and a Markdown page with a ROC plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from trigger.models_train.evaluate import BASELINE_FEATURES, RATES, roc_points

__all__ = ["plot_roc", "render_markdown", "write_json"]


def write_json(card: dict[str, Any], path: Path) -> None:
    """Write the card as sorted, indented JSON (stable diffs)."""
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _pct(x: float) -> str:
    return f"{100.0 * x:.2f}%"


def _rates_table(card: dict[str, Any]) -> list[str]:
    ev = card["evaluation"]
    keys = [f"{r:g}" for r in RATES]
    lines = ["| selection | " + " | ".join(f"{_pct(r)} of bkg" for r in RATES) + " |",
             "|---|" + "---|" * len(RATES)]
    for name, sig in ev["signals"].items():
        lines.append(f"| **{card['name']}** on {name} | " + " | ".join(_pct(sig["efficiency"][k]) for k in keys) + " |")
        if "seeded_path" in ev:
            seeded = ev["seeded_path"]["efficiency"][name]
            lines.append(f"| {card['name']} after seed `{ev['seeded_path']['seed']}` on {name} | "
                         + " | ".join(_pct(seeded[k]) for k in keys) + " |")
        for feature in BASELINE_FEATURES:
            eff = ev["baselines"][feature]["efficiency"][name]
            lines.append(f"| {feature} cut on {name} | " + " | ".join(_pct(eff[k]) for k in keys) + " |")
    return lines


def render_markdown(card: dict[str, Any], *, roc_png: str) -> str:
    """The human-readable card (inputs, output, training, metrics, comparison, hash)."""
    inp, out, tr, ev = card["input"], card["output"], card["training"], card["evaluation"]
    one = f"{0.01:g}"
    lines = [
        f"# Model card: {card['name']}", "",
        card["summary"], "",
        f"- file: `{card['file']}` (shipped in the package: `trigger/models/`)",
        f"- sha256: `{card['sha256']}`",
        f"- kind: `{card['kind']}` (scorer), ONNX opset {card['format']['opset']}, "
        f"{card['parameters']:,} parameters, exported by PyTorch {tr['torch']}",
        f"- architecture: {card['architecture']}", "",
        "## Input", "",
        f"`{inp['name']}`: {inp['dtype']}[{', '.join(map(str, inp['shape']))}] ({inp['builder']} builder). "
        f"{inp['description']}", "",
        f"Units: {inp['units']}", "",
        "## Output", "",
        f"`{out['name']}`: {out['dtype']}[{', '.join(map(str, out['shape']))}]. {out['description']}", "",
        "## Training", "",
        f"- command: `{tr['command']}`",
        f"- data: {tr['events']:,} generated events, seed {tr['seed']}, mix {tr['mix']}",
        f"- {tr['epochs']} epochs, batch {tr['batch_size']}, Adam lr {tr['learning_rate']} (cosine decay), "
        f"one thread, deterministic; {tr['wall_s']:.1f} s on this machine",
        f"- loss per epoch: {', '.join(f'{x:.4f}' for x in tr['loss_history'])}", "",
        "## Held-out evaluation", "",
        f"Background: {ev['background']['events']:,} events, {ev['background']['description']} "
        f"(generator seed {ev['background']['seed']}); each signal: a pure sample of that process "
        "(seeds in the JSON card). An event passes when score > threshold.", "",
        "| signal | ROC AUC | efficiency at 1% background | threshold |", "|---|---|---|---|",
    ]
    for name, sig in ev["signals"].items():
        lines.append(f"| {name} | {sig['roc_auc']:.4f} | {_pct(sig['efficiency'][one])} | "
                     f"{ev['thresholds'][one]:.6g} |")
    if ev.get("background_above_1pct"):
        lines += ["", "Share of each background component above the 1% threshold: "
                  + ", ".join(f"{p} {_pct(v)}" for p, v in ev["background_above_1pct"].items()) + "."]
    lines += ["", "### Compared with single-feature cuts at the same background rate", ""]
    lines += _rates_table(card)
    lines += ["", card.get("comparison", "")]
    if card.get("notes"):
        lines += ["", card["notes"]]
    lines += ["", f"![ROC curves]({roc_png})", "",
              f"ONNX vs PyTorch on the held-out background: max |difference| = "
              f"{card['onnx_vs_torch_max_abs_diff']:.2e}."]
    if "exported_vs_trained_formula_max_rel_diff" in card:
        lines += ["", "The exported graph computes the trained score rearranged for speed; largest relative "
                  f"difference to the trained formula: {card['exported_vs_trained_formula_max_rel_diff']:.2e}."]
    lines.append("")
    return "\n".join(lines)


def plot_roc(card: dict[str, Any], scores: dict[str, np.ndarray], features: dict[str, dict[str, np.ndarray]],
             path: Path) -> None:
    """ROC curves (signal vs background efficiency, log x) of the model and the baselines.

    Args:
        card: The card (names, metrics).
        scores: ``background`` and each signal -> model scores.
        features: ``background`` and each signal -> {feature: values}.
        path: The PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display; deterministic output
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    for name in card["evaluation"]["signals"]:
        x, y = roc_points(scores["background"], scores[name])
        ax.plot(x, y, lw=2, label=f"{card['name']}: {name}")
        primary = name == card["primary_signal"]
        for feature in BASELINE_FEATURES if primary else ():
            fx, fy = roc_points(features["background"][feature], features[name][feature])
            ax.plot(fx, fy, lw=1, ls="--", label=f"{feature} cut: {name}")
    ax.axvline(0.01, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(f"background efficiency ({card['evaluation']['background']['description'].split(':')[0]})")
    ax.set_ylabel("signal efficiency")
    ax.set_title(f"{card['name']} (held-out generated events)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
