"""The two networks, in PyTorch, with their input scaling inside the graph.

- :class:`Autoencoder`: AXOL1TL-style dense autoencoder 76-32-8-32-76 on the
  L1 input, rewritten in the graph as per-object (pt, eta, px, py)
  (:func:`transverse_features`): momentum balance is linear in px and py, not
  in phi. Every feature is standardized with constants fixed from the training
  sample (buffers, exported as graph constants); linear, not log, scaling: a
  log compresses the high-pt leptons that make events anomalous. It trains on
  the mean squared error of pt, px and py of MET, e/gamma and muons.
- :class:`AnomalyScore`: what is exported: that error plus the jet residuals
  beyond their 99.9% training quantile. The graph outputs the score itself.
- :class:`DeepSets`: a permutation-invariant event classifier over up to 32
  objects (pt, eta, phi, btag, one-hot collection): a per-object MLP, masked
  mean and sum pooling, an event MLP. ``forward`` returns the signal
  probability; ``logits`` is what training optimizes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["AnomalyScore", "Autoencoder", "DeepSets", "feature_weights", "transverse_features"]


_N_OBJECTS = 19  # MET, 4 e/gamma, 4 muons, 10 jets: the L1 input's objects, each (pt, eta, phi)
_KINDS = ("met",) + ("eg",) * 4 + ("mu",) * 4 + ("jet",) * 10
_FIELDS = ("pt", "eta", "px", "py")
# Taylor coefficients of sin(h)/h and cos(h) in h^2, highest first (Horner), for |h| <= pi/2.
_SIN_COEFFS = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(5, -1, -1))  # to h^11: error < 6e-8
_COS_COEFFS = tuple((-1) ** k / math.factorial(2 * k) for k in range(5, -1, -1))  # to h^10: error < 5e-7
# The same in q = phi^2 = 4 h^2: sin(h) = phi * sum a_k / 2 / 4^k q^k; 2 cos(h) = sum 2 b_k / 4^k q^k.
_SIN_FOLDED = tuple(a / 2 / 4.0**k for a, k in zip(_SIN_COEFFS, range(5, -1, -1)))
_COS2_FOLDED = tuple(2 * b / 4.0**k for b, k in zip(_COS_COEFFS, range(5, -1, -1)))
# The score's layout, field-major: pt, px, py, eta (old index: object * 4 + field in (pt, eta, px, py)).
_FIELD_MAJOR = np.array([obj * 4 + f for f in (0, 2, 3, 1) for obj in range(_N_OBJECTS)])
_N_SCORED = 3 * _N_OBJECTS  # pt, px, py: what the score weighs
_ETA = np.arange(_N_OBJECTS) * 4 + 1


def _horner(q: torch.Tensor, coeffs: tuple[float, ...]) -> torch.Tensor:
    acc = torch.full_like(q, coeffs[0])
    for c in coeffs[1:]:
        acc = acc * q + c
    return acc


def _cos_sin(phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin on [-pi, pi]: polynomials of the half angle, then the double-angle formulas.

    Only elementwise Mul, Add and Sub: onnxruntime's vectorized Cos and Sin round
    an element differently with its position in the batch (measured); exactly
    rounded Mul, Add and Sub do not (invariant 2: a decision must not depend on
    batching). The half angle needs degree 10-11 instead of 18-19 for the same
    accuracy: 28 graph nodes instead of 62 (0.8 -> 0.5 ms for 2,937 events).
    """
    h = phi * 0.5
    q = h * h
    s = h * _horner(q, _SIN_COEFFS)
    c = _horner(q, _COS_COEFFS)
    return 1.0 - 2.0 * (s * s), 2.0 * (s * c)


def _cos_sin_folded(phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_cos_sin` with the half angle folded into the coefficients (4 fewer graph nodes).

    With ``q = phi**2 = 4 h**2``, the coefficient of ``h**(2k)`` becomes ``/ 4**k``;
    sin's ``h = phi / 2`` and the double angle's 2 are folded in as well.
    """
    q = phi * phi
    s = phi * _horner_from(q, _SIN_FOLDED)
    return (s * s) * -2.0 + 1.0, s * _horner_from(q, _COS2_FOLDED)


def _f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _f32(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float32)


def _horner_from(q: torch.Tensor, coeffs: tuple[float, ...]) -> torch.Tensor:
    acc = q * coeffs[0] + coeffs[1]  # no constant-filled tensor to start from
    for c in coeffs[2:]:
        acc = acc * q + c
    return acc


def transverse_features(x: torch.Tensor) -> torch.Tensor:
    """(batch, 57) L1 input -> (batch, 76): per object (pt, eta, px, py); absent objects stay 0.

    The elementwise work runs on (batch, 19) tensors: onnxruntime broadcasts a
    scalar over a (batch, 19, 1) tensor ~80x slower (one element per inner loop;
    measured 338 vs 4 us per Mul on 2,937 events).
    """
    v = x.reshape(-1, _N_OBJECTS, 3)
    pt, eta, phi = v[:, :, 0], v[:, :, 1], v[:, :, 2]
    cos, sin = _cos_sin(phi)
    return torch.stack([pt, eta, pt * cos, pt * sin], dim=-1).reshape(-1, 4 * _N_OBJECTS)


def feature_weights(*, jets: bool) -> np.ndarray:
    """Per transverse feature: 1 for pt, px, py of MET, e/gamma and muons (``jets=False``),
    or of jets (``jets=True``); 0 elsewhere (every eta). Normalized to sum 1."""
    w = np.array([float((kind == "jet") == jets and field != "eta") for kind in _KINDS for field in _FIELDS])
    return w / w.sum()


class Autoencoder(nn.Module):
    """Dense autoencoder on the transverse features; ``forward`` is its training loss per event.

    Args:
        mean: Per-feature mean of :func:`transverse_features` (from the training sample).
        scale: Per-feature standard deviation (floored).
        hidden: Hidden width.
        latent: Latent width.
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray, *, hidden: int = 32, latent: int = 8) -> None:
        super().__init__()
        n = mean.size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("inv_scale", torch.tensor(1.0 / scale, dtype=torch.float32))
        self.register_buffer("weights", torch.tensor(feature_weights(jets=False)[:, None], dtype=torch.float32))
        self.encoder = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n))

    def errors(self, x: torch.Tensor) -> torch.Tensor:
        """Squared reconstruction error of each standardized feature, shape (batch, 76)."""
        z = (transverse_features(x) - self.mean) * self.inv_scale
        d = self.decoder(self.encoder(z)) - z
        return d * d  # not d ** 2: the exporter writes Pow, a generic (slow) power in onnxruntime

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Weighted mean squared error over pt, px, py of MET, e/gamma and muons, shape (batch,).

        The mean is a MatMul, not a ReduceMean: onnxruntime's vectorized reductions
        round a row differently with its memory alignment (its place in the batch);
        a MatMul gives every row the same bits wherever it sits.
        """
        return (self.errors(x) @ self.weights).squeeze(-1)


class AnomalyScore(nn.Module):
    """The exported anomaly score: the autoencoder's loss plus its extreme jet residuals.

    Jets are hard to reconstruct in every busy standard-model event, so a plain
    jet term spends the rate budget on them (measured: even weight 0.01 costs
    ~1 point of exotic efficiency at 1%). Only what a jet residual exceeds its
    99.9% quantile on the training background counts: a jet the standard model
    never makes (1 TeV injected into multijet events: 100% above threshold) still
    raises the score, an ordinary busy event does not.

    ``forward`` computes :meth:`reference` (the training formula) rearranged for
    onnxruntime, equal up to float32 rounding (the export checks it): 65 graph
    nodes instead of 84, 0.47 instead of 0.69 ms on 2,798 events (one core).

    - The standardization is folded into the first and last layers: with
      ``z = (f - mean) / std``, ``W z + b = (W / std) f + (b - W mean / std)``,
      and ``dec - z = (dec * std + mean - f) / std``, whose ``1 / std**2``
      moves into the score's weights.
    - Features are laid out field-major, ``[pt, px, py | eta]`` x 19 objects:
      concatenations of (batch, 19) blocks, not an interleave per object.
    - The eta reconstructions weigh 0 in the score and are never computed.
    - Both terms are one ``relu(u**2 - c) @ v``, with ``c = 0`` where a term is
      plain (``u**2 >= 0``) and the jet quantile where it is an excess.
    - The half angle's 1/2 is folded into the polynomial coefficients.

    Args:
        autoencoder: The trained autoencoder.
        jet_cut: Per feature, the 99.9% quantile of its squared residual on the training sample.
        jet_weight: Weight of the jet term.
    """

    def __init__(self, autoencoder: Autoencoder, jet_cut: np.ndarray, *, jet_weight: float = 0.1) -> None:
        super().__init__()
        self.autoencoder = autoencoder
        self.register_buffer("jet_cut", torch.tensor(jet_cut, dtype=torch.float32))
        self.register_buffer("jet_weights",
                             torch.tensor(jet_weight * feature_weights(jets=True)[:, None], dtype=torch.float32))
        # Folded in float64, rounded to float32 once.
        mean, inv = _f64(autoencoder.mean), _f64(autoencoder.inv_scale)
        w, jw, cut = _f64(autoencoder.weights)[:, 0], _f64(self.jet_weights)[:, 0], np.asarray(jet_cut, np.float64)
        if np.any((w > 0) & (jw > 0)) or np.any(w[_ETA] + jw[_ETA]):
            raise ValueError("the folded score needs disjoint plain and jet terms and zero weight on every eta")
        first, last = autoencoder.encoder[0], autoencoder.decoder[2]
        w1, b1, w4, b4 = _f64(first.weight), _f64(first.bias), _f64(last.weight), _f64(last.bias)
        keep = _FIELD_MAJOR[:_N_SCORED]
        tensor = _f32
        self.register_buffer("w_in", tensor((w1 * inv)[:, _FIELD_MAJOR]))
        self.register_buffer("b_in", tensor(b1 - w1 @ (inv * mean)))
        self.register_buffer("w_out", tensor((w4 / inv[:, None])[keep]))
        self.register_buffer("b_out", tensor((b4 / inv + mean)[keep]))
        self.register_buffer("excess_from", tensor(np.where(jw > 0, cut / inv**2, 0.0)[keep]))
        self.register_buffer("score_weights", tensor(((w + jw) * inv**2)[keep][:, None]))

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """The score as trained: from the autoencoder's standardized errors, shape (batch,)."""
        e = self.autoencoder.errors(x)
        return (e @ self.autoencoder.weights + torch.relu(e - self.jet_cut) @ self.jet_weights).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score per event, shape (batch,); higher is more anomalous."""
        v = x.reshape(-1, _N_OBJECTS, 3)
        pt, eta, phi = v[:, :, 0], v[:, :, 1], v[:, :, 2]
        cos, sin = _cos_sin_folded(phi)
        scored = torch.cat([pt, pt * cos, pt * sin], dim=1)
        ae = self.autoencoder
        hidden = torch.relu(nn.functional.linear(torch.cat([scored, eta], dim=1), self.w_in, self.b_in))
        hidden = torch.relu(ae.decoder[0](ae.encoder[2](hidden)))
        u = nn.functional.linear(hidden, self.w_out, self.b_out) - scored
        return (torch.relu(u * u - self.excess_from) @ self.score_weights).squeeze(-1)


class DeepSets(nn.Module):
    """Deep Sets event classifier.

    Args:
        n_features: Per-object features: pt, eta, phi, then the rest (btag, one-hots) as is.
        hidden: Width of both MLPs.
    """

    def __init__(self, n_features: int, *, hidden: int = 64) -> None:
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.rho = nn.Sequential(nn.Linear(2 * hidden + 1, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Signal logit per event, shape (batch,). ``x``: (batch, objects, features)."""
        pt = x[..., 0:1]
        mask = (pt > 0).to(x.dtype)  # absent objects are all-zero rows
        # Fixed scaling keeps every feature O(1): log pt (GeV) ~ 2..7, |eta| < 5, |phi| < pi.
        scaled = torch.cat([(torch.log1p(torch.clamp(pt, min=0.0)) - 3.0) / 1.5,
                            x[..., 1:2] / 2.5, x[..., 2:3] / math.pi, x[..., 3:]], dim=-1)
        h = self.phi(scaled) * mask
        count = mask.sum(dim=1)
        total = h.sum(dim=1)
        mean = total / torch.clamp(count, min=1.0)
        event = torch.cat([mean, total / 8.0, torch.log1p(count)], dim=-1)
        return self.rho(event).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Signal probability per event, shape (batch,)."""
        return torch.sigmoid(self.logits(x))
