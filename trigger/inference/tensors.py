"""Model input builders: an event batch -> the tensor a model reads.

Two builders, chosen by the model's ``trigger.input`` metadata (a whitelist,
never code):

- ``l1_input``: the 57 floats of an AXOL1TL-style anomaly model
  (:func:`trigger.features.l1_input.l1_input`), input name ``l1_input``.
- ``objects``: up to ``n_objects`` objects of several collections merged by
  decreasing pt, each with some fields and a one-hot of its collection, input
  name ``objects``, shape ``(batch, n_objects, n_fields + n_collections)``.

Training (:mod:`trigger.models_train`) builds its tensors with these same
functions, so what a model was trained on is what it is fed.

Layering note: this module and :mod:`trigger.inference.scorers` import
:mod:`trigger.features`, which sits above inference in DESIGN.md's diagram;
they are the glue between the two and nothing else in this package does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from trigger.errors import ModelError, SchemaError, closest_names
from trigger.features.frame import FeatureFrame
from trigger.features.l1_input import L1_INPUT_NAMES, L1_LAYOUT, l1_input, merged_slots
from trigger.inference.validate import TensorSpec
from trigger.schema import COLLECTIONS

__all__ = ["InputBuilder", "L1InputBuilder", "ObjectBuilder", "builder_from_metadata"]


class InputBuilder:
    """Builds one model input from a :class:`FeatureFrame`.

    Attributes:
        spec: The input the model must declare.
        columns: Batch columns the builder reads.
        struct_fields: Struct fields it reads in the collections among ``columns``.
    """

    spec: TensorSpec
    columns: tuple[str, ...]
    struct_fields: tuple[str, ...]

    def __call__(self, frame: FeatureFrame, *, events: np.ndarray | None = None) -> np.ndarray:
        """The input for ``events`` (indices into the batch, increasing; row ``i`` is event ``events[i]``), or all."""
        raise NotImplementedError

    def to_metadata(self) -> str:
        """The ``trigger.input`` metadata value describing this builder (JSON)."""
        raise NotImplementedError


class L1InputBuilder(InputBuilder):
    """The 57-float L1 input (MET, 4 e/gamma, 4 muons, 10 jets; pt, eta, phi each)."""

    spec = TensorSpec("l1_input", np.dtype(np.float32), (None, len(L1_INPUT_NAMES)))
    columns = ("met_pt", "met_phi", *dict.fromkeys(c for _, cs, _ in L1_LAYOUT for c in cs))
    struct_fields = ("pt", "eta", "phi")

    def __call__(self, frame: FeatureFrame, *, events: np.ndarray | None = None) -> np.ndarray:
        return l1_input(frame, events=events)

    def to_metadata(self) -> str:
        return json.dumps({"builder": "l1_input"})


@dataclass(frozen=True)
class ObjectBuilder(InputBuilder):
    """Leading objects of merged collections, with a one-hot of the collection.

    Attributes:
        collections: Collections merged by decreasing pt (earlier wins ties).
        n_objects: Object slots per event; absent objects are all zeros.
        fields: Struct fields per object; a collection lacking one reads 0 (muons have no btag).
    """

    collections: tuple[str, ...] = ("muons", "electrons", "photons", "jets")
    n_objects: int = 32
    fields: tuple[str, ...] = ("pt", "eta", "phi", "btag")

    def __post_init__(self) -> None:
        for name in self.collections:
            if name not in COLLECTIONS:
                raise ModelError(f"object input: unknown collection {name!r} (known: {', '.join(COLLECTIONS)})")
        known = {f.name for c in self.collections for f in COLLECTIONS[c]}
        for name in self.fields:
            if name not in known:
                raise ModelError(f"object input: no collection of {', '.join(self.collections)} has a field "
                                 f"{name!r}" + (f" (closest: {', '.join(closest_names(name, known))})"
                                                if closest_names(name, known) else ""))
        if not self.collections or not self.fields or not 1 <= self.n_objects <= 256:
            raise ModelError("object input needs collections, fields and 1 <= n_objects <= 256, got "
                             f"{self.collections}, {self.fields}, {self.n_objects}")

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Per-object feature names, in tensor order."""
        return (*self.fields, *(f"is_{c}" for c in self.collections))

    @property
    def spec(self) -> TensorSpec:  # type: ignore[override]
        return TensorSpec("objects", np.dtype(np.float32), (None, self.n_objects, len(self.feature_names)))

    @property
    def columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.collections

    @property
    def struct_fields(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(dict.fromkeys(("pt", *self.fields)))  # pt always: it orders the objects

    def __call__(self, frame: FeatureFrame, *, events: np.ndarray | None = None) -> np.ndarray:
        names = frame.schema.names
        for c in self.collections:
            if c not in names:
                raise SchemaError(f"the classifier needs collection {c!r}, which the batch lacks", column=c)
        views = [frame.collection(c) for c in self.collections]
        width = len(self.feature_names)
        n_rows = frame.n_events if events is None else events.size
        out = np.zeros((n_rows, self.n_objects, width), dtype=np.float32)
        flat = out.reshape(-1)
        for k, (view, (index, event, slot)) in enumerate(
                zip(views, merged_slots(views, n_objects=self.n_objects, events=events), strict=True)):
            dest = (event * self.n_objects + slot) * width  # one flat index: faster than three
            for j, name in enumerate(self.fields):
                if name in view.field_names:
                    flat[dest + j] = view.field(name)[index]
            flat[dest + len(self.fields) + k] = 1.0
        return out

    def to_metadata(self) -> str:
        return json.dumps({"builder": "objects", "collections": list(self.collections),
                           "n_objects": self.n_objects, "fields": list(self.fields)})


def builder_from_metadata(value: str | None, *, kind: str, model: str = "?") -> InputBuilder:
    """The builder a model asks for in its ``trigger.input`` metadata.

    Args:
        value: The metadata JSON, or None (then the kind's default builder).
        kind: Scorer kind (``anomaly`` defaults to ``l1_input``, ``classifier`` to ``objects``).
        model: Model name, for messages.

    Raises:
        ModelError: Malformed metadata or an unknown builder.
    """
    if value is None:
        return L1InputBuilder() if kind == "anomaly" else ObjectBuilder()
    try:
        doc = json.loads(value)
    except json.JSONDecodeError as err:
        raise ModelError(f"model {model!r}: metadata trigger.input is not JSON ({err}): {value!r}") from None
    if not isinstance(doc, Mapping) or doc.get("builder") not in ("l1_input", "objects"):
        raise ModelError(f"model {model!r}: metadata trigger.input must name a builder 'l1_input' or "
                         f"'objects', found {value!r}")
    if doc["builder"] == "l1_input":
        return L1InputBuilder()
    extra = set(doc) - {"builder", "collections", "n_objects", "fields"}
    if extra:
        raise ModelError(f"model {model!r}: unknown keys {sorted(extra)} in trigger.input")
    args: dict[str, Any] = {}
    for key in ("collections", "fields"):
        if key in doc:
            if not isinstance(doc[key], list) or not all(isinstance(x, str) for x in doc[key]):
                raise ModelError(f"model {model!r}: trigger.input {key} must be a list of names")
            args[key] = tuple(doc[key])
    if "n_objects" in doc:
        if not isinstance(doc["n_objects"], int):
            raise ModelError(f"model {model!r}: trigger.input n_objects must be an integer")
        args["n_objects"] = doc["n_objects"]
    return ObjectBuilder(**args)
