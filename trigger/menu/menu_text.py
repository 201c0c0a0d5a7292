"""Rewriting one score threshold in a menu's YAML text, keeping everything else byte for byte.

Calibration changes one number. Re-dumping the YAML would drop comments and
reflow the file, so instead the threshold's exact position is found from the
YAML node marks (the path's ``cut`` scalars) and only those characters are
replaced. A threshold is a cut term ``score.<model> > NUMBER`` (or ``>=``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import yaml

from trigger.errors import ConfigError, MenuError

__all__ = ["ThresholdSite", "find_threshold", "format_threshold", "replace_threshold", "threshold_pattern"]

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def threshold_pattern(model: str) -> re.Pattern[str]:
    """Regex of ``score.<model> > NUMBER`` / ``>=``: groups op and number."""
    return re.compile(rf"\bscore\s*\.\s*{re.escape(model)}\b\s*(>=|>)\s*({_NUMBER})(?![\w.])")


@dataclass(frozen=True)
class ThresholdSite:
    """Where a path's threshold on a model sits.

    Attributes:
        path: Trigger path name.
        model: Model name.
        cut_index: Index of the cut (in the path's list of cuts) holding it.
        op: ``>`` or ``>=``.
        value: The current threshold.
        start: Offset of the number in the menu text (characters).
        end: Offset just after it.
    """

    path: str
    model: str
    cut_index: int
    op: str
    value: float
    start: int
    end: int


def _path_node(root: yaml.Node, path: str, where: str) -> yaml.MappingNode:
    if not isinstance(root, yaml.MappingNode):
        raise MenuError(f"{where}: not a menu (expected a mapping)")
    for key, value in root.value:
        if key.value == "paths" and isinstance(value, yaml.SequenceNode):
            for entry in value.value:
                if isinstance(entry, yaml.MappingNode) and any(
                        k.value == "name" and getattr(v, "value", None) == path for k, v in entry.value):
                    return entry
    raise MenuError(f"{where}: no path named {path!r}")


def find_threshold(text: str, *, path: str, model: str, where: str = "menu") -> ThresholdSite:
    """Locate the one ``score.<model> > NUMBER`` in a path's cuts.

    Args:
        text: The menu YAML.
        path: Trigger path name.
        model: Model name.
        where: The menu's name or file, for messages.

    Raises:
        MenuError: No such path, or not exactly one such threshold in its cuts.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}: invalid YAML: {err}") from None
    entry = _path_node(root, path, where)
    cut = next((v for k, v in entry.value if k.value == "cut"), None)
    nodes = cut.value if isinstance(cut, yaml.SequenceNode) else [cut] if cut is not None else []
    pattern = threshold_pattern(model)
    sites = []
    for index, node in enumerate(nodes):
        if not isinstance(node, yaml.ScalarNode):
            continue
        lo, hi = node.start_mark.index, node.end_mark.index
        for m in pattern.finditer(text, lo, hi):
            sites.append(ThresholdSite(path, model, index, m.group(1), float(m.group(2)),
                                       m.start(2), m.end(2)))
    if len(sites) != 1:
        found = "no" if not sites else f"{len(sites)}"
        raise MenuError(f"{where}: path {path!r} has {found} cut terms of the form `score.{model} > NUMBER`; "
                        "calibration needs exactly one (e.g. add the cut `score."
                        f"{model} > 0` as its own list item)", path=path)
    return sites[0]


def format_threshold(value: float) -> str:
    """The shortest decimal text that reads back as the same float32 (scores are float32).

    Raises:
        ConfigError: ``value`` is not finite.
    """
    f32 = np.float32(value)
    if not np.isfinite(f32):
        raise ConfigError(f"threshold {value!r} is not a finite number")
    text = np.format_float_positional(f32, unique=True, trim="0")
    if len(text) > 16:  # very large or very small: scientific is shorter and exact too
        text = np.format_float_scientific(f32, unique=True, trim="0")
    return text


def replace_threshold(text: str, site: ThresholdSite, value: float) -> str:
    """``text`` with the threshold at ``site`` replaced by ``value`` (all else unchanged)."""
    return text[:site.start] + format_threshold(value) + text[site.end:]
