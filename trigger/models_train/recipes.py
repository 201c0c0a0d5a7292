"""The two shipped models, end to end: generate, train, export, evaluate, write the card.

``train_model("anomaly_ae", seed=1, out_dir=...)`` is what ``trigger models
train`` runs. Outputs: ``<name>.onnx`` and ``<name>.json`` (the card record,
shipped beside the model) in ``out_dir``; ``<name>.md`` and ``<name>_roc.png``
in ``card_dir``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trigger.features.l1_input import L1_INPUT_NAMES
from trigger.inference.pinning import sha256_bytes
from trigger.inference.session import ModelSession, SessionConfig
from trigger.inference.tensors import InputBuilder, L1InputBuilder, ObjectBuilder
from trigger.models_train import cards
from trigger.models_train.data import SM_MIX, make_sample, seed_for
from trigger.models_train.evaluate import evaluate
from trigger.models_train.fit import OPSET, deterministic, export_onnx, predict, train
from trigger.models_train.nets import (
    AnomalyScore,
    Autoencoder,
    DeepSets,
    transverse_features,
)

__all__ = ["RECIPES", "Recipe", "train_model"]


@dataclass(frozen=True)
class Recipe:
    """Everything that defines one shipped model."""

    name: str
    kind: str
    summary: str
    builder: InputBuilder
    output_name: str
    train_mix: dict[str, float]
    background_mix: dict[str, float]
    background_description: str
    signals: tuple[str, ...]
    primary_signal: str
    n_train: int
    epochs: int
    input_description: str
    units: str
    output_description: str
    architecture: str
    background_components: tuple[str, ...] = ()
    n_background: int = 200_000
    n_signal: int = 20_000
    batch_size: int = 512
    learning_rate: float = 2e-3
    extra: dict[str, Any] = field(default_factory=dict)


RECIPES: dict[str, Recipe] = {
    "anomaly_ae": Recipe(
        name="anomaly_ae", kind="anomaly",
        summary="AXOL1TL-style anomaly detector: a dense autoencoder on the 57-float L1 input, trained on "
                "standard-model background only. The graph outputs the anomaly score itself.",
        builder=L1InputBuilder(), output_name="anomaly_score",
        train_mix=SM_MIX, background_mix=SM_MIX,
        background_description="standard-model mix: multijet 90%, zmumu/wenu/ttbar 3% each",
        signals=("exotic",), primary_signal="exotic", background_components=("multijet", "zmumu", "wenu", "ttbar"),
        n_train=1_000_000, epochs=10,
        input_description="MET (pt, 0, phi), the 4 leading e/gamma (electrons and photons merged by pt), "
                          "4 muons and 10 jets, each (pt, eta, phi); zeros where absent. Names in "
                          "trigger.features.L1_INPUT_NAMES.",
        units="pt in GeV, eta dimensionless, phi in rad. Inside the graph each object becomes (pt, eta, px, py) "
              "(cos and sin as exact-rounding polynomials), and every one of the 76 features is standardized "
              "((x - mean) / std, constants from the training sample, std floored at 0.05).",
        output_description="Mean squared reconstruction error of the standardized pt, px, py of MET, e/gamma and "
                           "muons, plus 0.1 x the mean excess of the jet pt, px, py errors over their 99.9% quantile "
                           "on the training background; higher is more anomalous.",
        architecture="dense autoencoder 76-32-8-32-76 on per-object (pt, eta, px, py), ReLU, standardization and "
                     "the score in-graph (exported rearranged: standardization folded into the first and last "
                     "layers, the 19 eta reconstructions that weigh 0 not computed)",
        extra={"path_seed": "lep1_pt > 45 or met > 120 or ht > 800", "notes": (
            "The exotic signal is four hard leptons: a leading-lepton pt cut keeps it whenever a lepton is in "
            "acceptance, and about 0.9% of exotic events have no lepton in the L1 input at all (they look like soft "
            "multijet events). At 1% of the background the autoencoder alone ties that cut within statistics "
            "(+-0.09%), the menu's path (seed, then the autoencoder) is level with it or just above, and at "
            "tighter rates (0.1%) both beat it clearly. Chosen on a validation sample with other seeds than "
            "this card's (background seed 1101, exotic 2601), among ~40 variants: (pt, eta, px, py) rather "
            "than (pt, eta, phi) (+1.5 points at 1%); reconstructing jets and eta in the score spends the "
            "budget on busy standard-model events (a linear jet weight of 0.01 costs ~1.1 points), so jets feed "
            "the encoder and count in the score only beyond their 99.9% residual quantile; 1M training events. "
            "Not better on validation: log1p(pt), latent 2-16, hidden 64, 20 epochs, 2M events, SM mixes "
            "richer in ttbar/W/Z, per-feature residual normalization, momentum-imbalance inputs, the latent "
            "norm in the score. A supervised classifier on the same lepton and MET inputs reaches 98.9% on "
            "validation: the ceiling for a score that never saw the signal is close to the cut. The path's seed "
            "passes ~2.2% of the background, so at 1% the model still chooses half of what the seed lets through; "
            "the looser `lep1_pt > 40 or met > 100 or ht > 500` (3.5%) gave the same path efficiency within "
            "0.05 points on three held-out samples and made the model run on 40% more events; a seed near 1% "
            "would make the path at 1% the seed itself.")}),
    "ttbar_deepsets": Recipe(
        name="ttbar_deepsets", kind="classifier",
        summary="Event classifier (Deep Sets over up to 32 objects) separating top-quark pairs from QCD "
                "multijet background; the graph outputs the ttbar probability.",
        builder=ObjectBuilder(), output_name="probability",
        train_mix={"multijet": 0.5, "ttbar": 0.5}, background_mix={"multijet": 1.0},
        background_description="QCD multijet",
        signals=("ttbar", "exotic", "zmumu", "wenu"), primary_signal="ttbar",
        n_train=100_000, epochs=8, n_background=100_000,
        input_description="The 32 leading objects of muons, electrons, photons and jets merged by pt; per "
                          "object (pt, eta, phi, btag, is_muon, is_electron, is_photon, is_jet); all-zero "
                          "rows where absent (pt = 0 marks padding).",
        units="pt in GeV, eta dimensionless, phi in rad, btag in [0, 1] (0 for non-jets). In-graph scaling: "
              "(log1p(pt) - 3) / 1.5, eta / 2.5, phi / pi.",
        output_description="Probability that the event is ttbar (sigmoid of the logit), in [0, 1].",
        architecture="Deep Sets: per-object MLP 8-64-64 (ReLU), masked mean and sum pooling plus log(1 + n), "
                     "event MLP 129-64-1, sigmoid"),
}


def _network(recipe: Recipe, x: np.ndarray) -> torch.nn.Module:
    if recipe.kind == "anomaly":
        with torch.no_grad():
            t = transverse_features(torch.from_numpy(x)).numpy()
        mean, std = t.mean(axis=0), np.maximum(t.std(axis=0), 0.05)
        return Autoencoder(mean, std)
    return DeepSets(x.shape[2])


def _exported(recipe: Recipe, model: torch.nn.Module, x: np.ndarray) -> torch.nn.Module:
    """The module to export: the trained network itself, or for the autoencoder its :class:`AnomalyScore`."""
    if recipe.kind != "anomaly":
        return model
    # The jet term's thresholds: 99.9% quantiles of the training background's residuals.
    errors = predict(_Errors(model), x[:200_000])
    return AnomalyScore(model, np.quantile(errors, 0.999, axis=0)).eval()


class _Reference(torch.nn.Module):
    """:meth:`AnomalyScore.reference` as a module (for :func:`predict`)."""

    def __init__(self, score: AnomalyScore) -> None:
        super().__init__()
        self.score = score

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score.reference(x)


class _Errors(torch.nn.Module):
    """The autoencoder's per-feature errors as a module (for :func:`predict`)."""

    def __init__(self, autoencoder: torch.nn.Module) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.errors(x)  # type: ignore[operator]


def _loss(recipe: Recipe) -> Callable[[torch.nn.Module, torch.Tensor, torch.Tensor | None], torch.Tensor]:
    if recipe.kind == "anomaly":
        return lambda model, xb, _: model(xb).mean()
    bce = torch.nn.BCEWithLogitsLoss()
    return lambda model, xb, yb: bce(model.logits(xb), yb)


def train_model(name: str, *, seed: int, out_dir: Path, card_dir: Path | None = None,
                n_train: int | None = None, epochs: int | None = None, n_eval: int | None = None,
                command: str = "", log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, export and evaluate one model; write the .onnx, the JSON card, Markdown and ROC plot.

    Args:
        name: A key of :data:`RECIPES`.
        seed: Seed of the training data, initialization and shuffles (held-out samples derive from it).
        out_dir: Where the .onnx and .json go.
        card_dir: Where the .md and .png go (default: ``out_dir``).
        n_train: Training events (default: the recipe's).
        epochs: Training epochs (default: the recipe's).
        n_eval: Events per held-out sample (default: the recipe's; smaller for quick runs).
        command: The command line, recorded in the card.
        log: Progress messages.

    Returns:
        The card (as written to ``<name>.json``).
    """
    recipe = RECIPES[name]
    card_dir = card_dir or out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    card_dir.mkdir(parents=True, exist_ok=True)
    n_train = n_train or recipe.n_train
    epochs = epochs or recipe.epochs
    data = make_sample(n_train, seed=seed_for(seed, "train"), mix=recipe.train_mix, builder=recipe.builder)
    y = data.of(recipe.primary_signal).astype(np.float32) if recipe.kind == "classifier" else None
    deterministic(seed)
    model = _network(recipe, data.x)
    start = time.perf_counter()
    history = train(model, _loss(recipe), data.x, y, seed=seed, epochs=epochs, batch_size=recipe.batch_size,
                    learning_rate=recipe.learning_rate,
                    on_epoch=lambda e, v: log(f"{name}: epoch {e + 1}/{epochs} loss {v:.5f}"))
    wall_s = time.perf_counter() - start
    model = _exported(recipe, model, data.x)
    meta = {"trigger.kind": recipe.kind, "trigger.input": recipe.builder.to_metadata(),
            "trigger.output": recipe.output_description, "trigger.train_seed": str(seed)}
    onnx_path = out_dir / f"{name}.onnx"
    blob = export_onnx(model, data.x[:4], onnx_path, input_name=recipe.builder.spec.name,
                       output_name=recipe.output_name, metadata=meta, doc=recipe.summary)
    session = ModelSession(blob, name=name, file=str(onnx_path), config=SessionConfig(providers=("cpu",)))

    n_bkg = n_eval or recipe.n_background
    n_sig = n_eval or recipe.n_signal
    bkg_seed = seed_for(seed, "background")
    background = make_sample(n_bkg, seed=bkg_seed, mix=recipe.background_mix, builder=recipe.builder)
    signals = {p: make_sample(n_sig, seed=seed_for(seed, "signal", p), mix={p: 1.0}, builder=recipe.builder)
               for p in recipe.signals}
    metrics = evaluate(session.run, background, signals, background_components=recipe.background_components,
                       seed=recipe.extra.get("path_seed"))
    scores = metrics.pop("_scores")
    reference = predict(model, background.x[:20_000])
    checks: dict[str, float] = {}
    if isinstance(model, AnomalyScore):  # the exported rearrangement vs the formula it was trained with
        trained = predict(_Reference(model), background.x[:20_000])
        folded_rel = float(np.max(np.abs(reference - trained) / np.maximum(np.abs(trained), 1.0)))
        if folded_rel > 1e-4:
            raise RuntimeError(f"{name}: the exported score differs from the trained formula by {folded_rel:.2e} "
                               "(relative): the folding in nets.AnomalyScore is wrong")
        checks["exported_vs_trained_formula_max_rel_diff"] = folded_rel
    gap = np.abs(reference - scores["background"][:20_000])
    parity = float(np.max(gap))
    # Relative to the score (at least 1): anomaly scores reach ~1e3, where a float32 ulp is 6e-5.
    parity_rel = float(np.max(gap / np.maximum(np.abs(reference), 1.0)))
    metrics["background"] = {"events": n_bkg, "seed": bkg_seed, "mix": recipe.background_mix,
                             "description": recipe.background_description}
    metrics["signal_seeds"] = {p: seed_for(seed, "signal", p) for p in recipe.signals}
    spec = recipe.builder.spec
    card: dict[str, Any] = {
        "name": name, "kind": recipe.kind, "summary": recipe.summary, "file": onnx_path.name,
        "sha256": sha256_bytes(blob), "size_bytes": len(blob),
        "format": {"onnx_opset": OPSET, "opset": OPSET, "dynamic_axes": ["batch"]},
        "architecture": recipe.architecture,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "input": {"name": spec.name, "dtype": spec.dtype.name, "shape": ["batch", *spec.shape[1:]],
                  "builder": type(recipe.builder).__name__, "metadata": recipe.builder.to_metadata(),
                  "description": recipe.input_description, "units": recipe.units,
                  "names": list(L1_INPUT_NAMES) if recipe.kind == "anomaly"
                  else list(recipe.builder.feature_names)},  # type: ignore[attr-defined]
        "output": {"name": recipe.output_name, "dtype": "float32", "shape": ["batch"],
                   "description": recipe.output_description},
        "training": {"command": command or f"trigger models train {name} --seed {seed}", "seed": seed,
                     "events": n_train, "mix": recipe.train_mix, "epochs": epochs,
                     "batch_size": recipe.batch_size, "learning_rate": recipe.learning_rate,
                     "loss_history": [round(v, 6) for v in history], "wall_s": round(wall_s, 2),
                     "torch": torch.__version__.split("+")[0], "threads": 1},
        "primary_signal": recipe.primary_signal,
        "evaluation": metrics,
        "onnx_vs_torch_max_abs_diff": parity,
        "onnx_vs_torch_max_rel_diff": parity_rel,
        **checks,
        **recipe.extra,
    }
    card["comparison"] = _comparison(card)
    cards.write_json(card, out_dir / f"{name}.json")
    feats = {"background": background.features, **{p: s.features for p, s in signals.items()}}
    cards.plot_roc(card, scores, feats, card_dir / f"{name}_roc.png")
    (card_dir / f"{name}.md").write_text(cards.render_markdown(card, roc_png=f"{name}_roc.png"), encoding="utf-8")
    log(f"{name}: wrote {onnx_path} (sha256 {card['sha256']}) and its card; {card['comparison']}")
    return card


def _comparison(card: dict[str, Any]) -> str:
    """One sentence: the model vs the best single-feature cut on the primary signal at 1%."""
    ev, sig, key = card["evaluation"], card["primary_signal"], f"{0.01:g}"
    model = ev["signals"][sig]["efficiency"][key]
    best = max(ev["baselines"], key=lambda f: ev["baselines"][f]["efficiency"][sig][key])
    base = ev["baselines"][best]["efficiency"][sig][key]
    verdict = "beats" if model > base else "does not beat"
    text = (f"At 1% of the background, {card['name']} keeps {100 * model:.2f}% of {sig}; the best single-feature "
            f"cut ({best}) keeps {100 * base:.2f}%: the model {verdict} it.")
    seeded = ev.get("seeded_path")
    if seeded is not None:
        path = seeded["efficiency"][sig][key]
        text += (f" The menu's path (seed `{seeded['seed']}`, then the model) keeps {100 * path:.2f}%: "
                 f"{'above' if path > base else 'below'} the cut by {100 * abs(path - base):.2f} points.")
    return text
