"""The two networks, in PyTorch, with their input scaling inside the graph.

- :class:`Autoencoder`: AXOL1TL-style dense autoencoder 57-32-8-32-57 on the L1
  input. Every input is standardized with constants fixed from the training
  sample (buffers, exported as graph constants); linear, not log, scaling: a
  log compresses the high-pt leptons that make events anomalous (measured: the
  exotic efficiency at 1% background drops from ~97% to ~91-92% with log1p(pt)).
  ``forward`` returns the anomaly score itself: the mean squared reconstruction
  error of the standardized input.
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

__all__ = ["Autoencoder", "DeepSets"]


class Autoencoder(nn.Module):
    """Dense autoencoder whose output is the per-event anomaly score.

    Args:
        mean: Per-input mean (from the training sample).
        scale: Per-input standard deviation (floored).
        hidden: Hidden width.
        latent: Latent width.
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray, *, hidden: int = 32, latent: int = 8) -> None:
        super().__init__()
        n = mean.size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("inv_scale", torch.tensor(1.0 / scale, dtype=torch.float32))
        self.register_buffer("mean_weights", torch.full((n, 1), 1.0 / n))
        self.encoder = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, n))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The standardized input the network reconstructs."""
        return (x - self.mean) * self.inv_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score per event: mean squared reconstruction error, shape (batch,)."""
        z = self.normalize(x)
        d = self.decoder(self.encoder(z)) - z
        # d * d, not d ** 2: the exporter writes Pow, a generic (slow) power in onnxruntime.
        # The mean as a MatMul, not ReduceMean: onnxruntime's vectorized ReduceMean over a
        # row of 57 floats rounds differently with the row's memory alignment, i.e. with
        # the event's position in the batch; MatMul gives every row the same bits wherever
        # it sits, so scores (and decisions) do not depend on batching (invariant 2).
        return ((d * d) @ self.mean_weights).squeeze(-1)


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
