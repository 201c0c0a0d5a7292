"""Execution providers: preference lists, GPU detection, and what a session really got.

onnxruntime-gpu lists ``TensorrtExecutionProvider`` and ``CUDAExecutionProvider``
as *available* even on a machine without a GPU or without the CUDA/TensorRT
libraries; asking for them then logs errors and silently runs on the CPU. So a
preference is resolved in two steps: providers whose hardware is absent (no
NVIDIA driver) are dropped up front, with a reason, and after the session is
created :func:`check_providers` compares what was asked with
``session.get_providers()`` and says plainly when it fell back.

This module does not import onnxruntime; callers pass what it reports.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trigger.errors import ConfigError, ModelError, did_you_mean

__all__ = [
    "DEFAULT_PROVIDERS",
    "PROVIDER_NAMES",
    "ProviderReport",
    "check_providers",
    "gpu_visible",
    "normalize_providers",
    "resolve_providers",
]

#: Short names accepted in menus and on the command line -> onnxruntime names.
PROVIDER_NAMES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
#: The default preference: the fastest first, the CPU as the last resort.
DEFAULT_PROVIDERS: tuple[str, ...] = ("tensorrt", "cuda", "cpu")
_GPU = frozenset({"tensorrt", "cuda"})
_GPU_CACHE: list[bool] = []


def normalize_providers(names: Iterable[str]) -> tuple[str, ...]:
    """Map user spellings (``cuda``, ``CUDAExecutionProvider``, ``CUDA``) to short names.

    Args:
        names: Provider names in preference order.

    Returns:
        Short names (keys of :data:`PROVIDER_NAMES`), duplicates removed, order kept.

    Raises:
        ConfigError: An unknown provider (with the closest known names), or an empty list.
    """
    by_long = {v.lower(): k for k, v in PROVIDER_NAMES.items()}
    out: list[str] = []
    for raw in names:
        key = str(raw).strip().lower()
        short = key if key in PROVIDER_NAMES else by_long.get(key)
        if short is None:
            raise ConfigError(f"unknown execution provider {raw!r}{did_you_mean(key, PROVIDER_NAMES)}; "
                              f"known: {', '.join(PROVIDER_NAMES)} (in preference order, e.g. [cuda, cpu])")
        if short not in out:
            out.append(short)
    if not out:
        raise ConfigError("the provider list is empty; give at least one of "
                          f"{', '.join(PROVIDER_NAMES)} (e.g. [cpu])")
    return tuple(out)


def gpu_visible() -> bool:
    """True if an NVIDIA driver is loadable here (checked once per process).

    ``TRIGGER_NO_GPU=1`` forces False (to test CPU behaviour on a GPU machine).
    """
    if os.environ.get("TRIGGER_NO_GPU", "") not in ("", "0"):
        return False
    if not _GPU_CACHE:
        try:
            ctypes.CDLL("libcuda.so.1")  # the driver library: present only with an NVIDIA driver
            _GPU_CACHE.append(True)
        except OSError:
            _GPU_CACHE.append(False)
    return _GPU_CACHE[0]


def resolve_providers(preference: Sequence[str], *, available: Iterable[str]) -> tuple[list[str], list[str]]:
    """The onnxruntime provider list to ask for, and why others were skipped.

    Args:
        preference: Short names in preference order (see :func:`normalize_providers`).
        available: ``onnxruntime.get_available_providers()``.

    Returns:
        (onnxruntime names to request, notes on skipped providers).

    Raises:
        ModelError: If nothing in ``preference`` can run here.
    """
    avail = set(available)
    asked: list[str] = []
    notes: list[str] = []
    for short in normalize_providers(preference):
        name = PROVIDER_NAMES[short]
        if name not in avail:
            notes.append(f"{short}: not in this onnxruntime build")
        elif short in _GPU and not gpu_visible():
            notes.append(f"{short}: no NVIDIA GPU visible (libcuda.so.1 not loadable)")
        else:
            asked.append(name)
    if not asked:
        raise ModelError(f"none of the execution providers {', '.join(preference)} can run here "
                         f"({'; '.join(notes)}); add 'cpu' to the model's providers in the menu")
    return asked, notes


@dataclass(frozen=True)
class ProviderReport:
    """What a session asked for and what it really runs on.

    Attributes:
        model: Model name, for messages.
        preferred: Short names in the configured preference order.
        requested: onnxruntime names actually requested.
        active: ``session.get_providers()``.
        notes: Why preferred providers were skipped before creating the session.
    """

    model: str
    preferred: tuple[str, ...]
    requested: tuple[str, ...]
    active: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        """Short name of the provider that runs the graph (the first active one)."""
        long_to_short = {v: k for k, v in PROVIDER_NAMES.items()}
        return long_to_short.get(self.active[0], self.active[0]) if self.active else "none"

    @property
    def fell_back(self) -> bool:
        """True if the session runs on something other than the first preference."""
        return self.primary != self.preferred[0]

    @property
    def on_gpu(self) -> bool:
        """True if the graph runs on CUDA or TensorRT."""
        return self.primary in _GPU

    def describe(self) -> str:
        """One line for people: the provider in use and, if any, the fallback and why."""
        text = f"model {self.model!r} runs on {self.primary}"
        if self.fell_back:
            text += f" (preferred: {', '.join(self.preferred)}; fell back"
            reasons = list(self.notes)
            lost = [PROVIDER_NAMES.get(p, p) for p in self.preferred if PROVIDER_NAMES.get(p, p) in self.requested
                    and PROVIDER_NAMES.get(p, p) not in self.active]
            if lost:
                reasons.append(f"onnxruntime could not start {', '.join(lost)} (missing CUDA/cuDNN/TensorRT "
                               "libraries or driver; onnxruntime falls back silently)")
            text += (": " + "; ".join(reasons)) if reasons else ""
            text += ")"
        return text


def check_providers(report: ProviderReport) -> ProviderReport:
    """Refuse a session that fell back to the CPU when the CPU was not allowed.

    Args:
        report: The session's report.

    Returns:
        The report, unchanged, when acceptable.

    Raises:
        ModelError: The session runs on a provider outside the preference list
            (onnxruntime always adds the CPU as a silent last resort).
    """
    if report.primary not in report.preferred:
        raise ModelError(f"{report.describe()}; {report.primary} is not in the model's providers "
                         f"({', '.join(report.preferred)}): refusing to run. Install the GPU libraries, "
                         "run on a GPU node, or add 'cpu' to the model's providers in the menu")
    return report
