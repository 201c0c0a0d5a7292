"""Training and evaluation samples from the event generator (numpy only, no torch).

Every sample is a seeded generator stream, so a seed gives the same events on
any machine. Inputs are built by the runtime's own builders
(:mod:`trigger.inference.tensors`): what a model is trained on is exactly what
the engine will feed it. Held-out samples use other seeds than training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trigger.features.frame import FeatureFrame
from trigger.inference.tensors import InputBuilder
from trigger.io.generator import (
    PROCESS_COLUMN,
    PROCESSES,
    GeneratorConfig,
    ProcessMix,
    generate_batches,
)

__all__ = ["SM_MIX", "Sample", "make_sample", "seed_for"]

#: Standard-model background: the generator's default mix without the exotic signal.
SM_MIX: dict[str, float] = {"multijet": 0.90, "zmumu": 0.03, "wenu": 0.03, "ttbar": 0.03}

#: Offsets added to the training seed for each held-out role (independent streams).
_ROLE_OFFSETS = {"train": 0, "background": 1_000, "signal": 2_000}


def seed_for(seed: int, role: str, process: str | None = None) -> int:
    """The generator seed of one sample role (``train``, ``background``, ``signal``).

    A signal sample of process p gets its own offset, so the held-out signals
    are independent of each other and of training.
    """
    extra = 0 if process is None else 100 * (1 + PROCESSES.index(process))
    return seed + _ROLE_OFFSETS[role] + extra


@dataclass
class Sample:
    """Model inputs of generated events with their truth labels and a few features.

    Attributes:
        x: Model input, one row per event.
        process: Process index per event (into :data:`PROCESSES`).
        features: Event-level features by name (for single-feature baselines and seeds).
        frames: The batches as feature frames (to evaluate menu expressions).
    """

    x: np.ndarray
    process: np.ndarray
    features: dict[str, np.ndarray]
    frames: list[FeatureFrame]

    def of(self, process: str) -> np.ndarray:
        """Boolean mask of the events of ``process``."""
        return self.process == PROCESSES.index(process)


def make_sample(n_events: int, *, seed: int, mix: Mapping[str, float], builder: InputBuilder,
                features: Sequence[str] = ("ht", "met", "lep1_pt"), batch_size: int = 65_536) -> Sample:
    """Generate events and build the model input for them.

    Args:
        n_events: Number of events.
        seed: Generator seed.
        mix: Process fractions (unnamed processes get 0).
        builder: The model's input builder.
        features: Registered features to keep alongside.
        batch_size: Events per generated batch.

    Returns:
        The sample.
    """
    config = GeneratorConfig(seed=seed, mix=ProcessMix.from_mapping(mix))
    xs, labels, frames = [], [], []
    feats: dict[str, list[np.ndarray]] = {f: [] for f in features}
    for batch in generate_batches(n_events, config=config, batch_size=batch_size):
        frame = FeatureFrame(batch)
        xs.append(builder(frame))
        label = batch.column(PROCESS_COLUMN)
        # The dictionary is PROCESSES in order (trigger.io.generator), so indices are process ids.
        labels.append(np.asarray(label.indices if isinstance(label, pa.DictionaryArray) else label))
        for name in features:
            feats[name].append(np.asarray(frame[name], dtype=np.float64))
        frames.append(frame)
    return Sample(np.concatenate(xs), np.concatenate(labels).astype(np.int64),
                  {k: np.concatenate(v) for k, v in feats.items()}, frames)
