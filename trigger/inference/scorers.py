"""Scorers: the engine's view of a model, ``score(frame, rows) -> float32 per event``.

A scorer builds the model input for the selected rows only (the events that
passed the seeds of the paths using the model), runs the session, and scatters
the scores back into a NaN-filled float32 array the length of the batch; NaN
never passes a threshold. Every input row depends on its event alone, so a
score does not depend on which other events share the batch.

- :class:`AnomalyScorer`: the 57-float L1 input; the graph outputs the anomaly
  score itself (reconstruction error).
- :class:`ClassifierScorer`: an object tensor; the graph outputs a probability.
"""

from __future__ import annotations

import numpy as np

from trigger.errors import ModelError
from trigger.features.frame import FeatureFrame
from trigger.inference.session import ModelSession
from trigger.inference.spec import SCORER_KINDS
from trigger.inference.tensors import InputBuilder, builder_from_metadata
from trigger.inference.validate import check_declared

__all__ = ["AnomalyScorer", "ClassifierScorer", "ModelScorer", "scorer_for"]


class ModelScorer:
    """Runs one model on the selected events of a batch.

    Args:
        session: The model's session.
        builder: Builds its input; checked against the model's declared input.

    Raises:
        ModelError: The model's declared input is not what ``builder`` makes.
    """

    kind = "model"

    def __init__(self, session: ModelSession, *, builder: InputBuilder) -> None:
        check_declared(session.inputs, [builder.spec], model=session.name, file=session.file)
        self.session = session
        self.builder = builder
        self.name = session.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.session.report.primary})"

    def inputs(self, frame: FeatureFrame, rows: np.ndarray) -> np.ndarray:
        """The model input for the events where ``rows`` is True, in event order.

        The builder reads the selected events' objects straight from the
        batch's zero-copy views: no smaller batch is gathered first (that cost
        as much as building the input and running the autoencoder together).
        """
        return self._inputs(frame, np.flatnonzero(rows))

    def _inputs(self, frame: FeatureFrame, events: np.ndarray) -> np.ndarray:
        return self.builder(frame) if events.size == frame.n_events else self.builder(frame, events=events)

    def score(self, frame: FeatureFrame, rows: np.ndarray) -> np.ndarray:
        """Scores for the events where ``rows`` is True; NaN elsewhere.

        Args:
            frame: The batch.
            rows: bool per event.

        Returns:
            float32 array of length ``frame.n_events``.

        Raises:
            ModelError: ``rows`` has the wrong shape, or the model fails.
        """
        rows = np.asarray(rows)
        if rows.dtype != np.bool_ or rows.shape != (frame.n_events,):
            raise ModelError(f"model {self.name!r}: rows must be a bool array of shape ({frame.n_events},), "
                             f"got {rows.dtype} {rows.shape}")
        out = np.full(frame.n_events, np.nan, dtype=np.float32)
        events = np.flatnonzero(rows)  # once: the input and the scatter both use it
        if events.size:
            scores = self.session.run(self._inputs(frame, events))
            if scores.ndim != 1:
                raise ModelError(f"model {self.name!r} outputs shape {list(scores.shape)} per batch; a scorer "
                                 "needs one value per event (shape [batch] or [batch, 1])")
            out[events] = scores
        return out


class AnomalyScorer(ModelScorer):
    """An anomaly autoencoder on the 57-float L1 input; higher scores are more anomalous."""

    kind = "anomaly"


class ClassifierScorer(ModelScorer):
    """An event classifier on an object tensor; the score is the signal probability."""

    kind = "classifier"


def scorer_for(session: ModelSession, *, kind: str | None = None) -> ModelScorer:
    """The scorer for a session, from ``kind`` or the model's ``trigger.kind`` metadata.

    Args:
        session: The model's session.
        kind: ``anomaly`` or ``classifier``; None reads the model's metadata.

    Raises:
        ModelError: No kind given nor recorded, an unknown kind, or an input mismatch.
    """
    kind = kind or session.metadata.get("trigger.kind")
    if kind not in SCORER_KINDS:
        found = "no trigger.kind metadata" if kind is None else f"trigger.kind {kind!r}"
        raise ModelError(f"model {session.name!r} ({session.file}) has {found}; set `kind:` "
                         f"({' or '.join(SCORER_KINDS)}) for it in the menu's models section")
    builder = builder_from_metadata(session.metadata.get("trigger.input"), kind=kind, model=session.name)
    cls = AnomalyScorer if kind == "anomaly" else ClassifierScorer
    return cls(session, builder=builder)
