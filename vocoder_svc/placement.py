"""Where and in what precision a loaded generator runs: device and dtype checks."""

from __future__ import annotations

import logging
from typing import TypeVar

import torch
from torch import nn

from tts_common.errors import ModelLoadError
from vocoder_svc.precision import dtype_advice, dtype_problem

__all__ = ["check_placement", "place"]

_LOGGER = logging.getLogger(__name__)
_TORCH_DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
M = TypeVar("M", bound=nn.Module)


def check_placement(device: str | torch.device, dtype: str) -> torch.device:
    """``device`` as a torch device, once it is known to run ``dtype`` (a warning
    is logged when it runs it slowly).

    Raises:
        ModelLoadError: An unknown device or dtype, or a GPU without bfloat16.
    """
    try:
        dev = torch.device(device)
    except RuntimeError as exc:  # e.g. "gpu"
        raise ModelLoadError(f"device {device!s} is not usable: {exc}") from None
    problem = dtype_problem(dev.type, dtype)
    # Before compute capability 8.0 (Ampere) bfloat16 is emulated, if it runs at
    # all (is_bf16_supported() counts emulation, so ask for the capability).
    if dev.type == "cuda" and dtype == "bfloat16" and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(dev)
        if major < 8:
            problem = f"bfloat16 needs compute capability 8.0+, not {major}.{minor}"
    if problem is not None:
        raise ModelLoadError(f"vocoder dtype: {problem}")
    advice = dtype_advice(dev.type, dtype)
    if advice is not None:
        _LOGGER.warning("vocoder dtype %s on %s: %s", dtype, dev, advice)
    return dev


def place(module: M, device: torch.device, dtype: str) -> M:
    """``module`` on ``device`` with its weights in ``dtype``, in eval mode.

    Raises:
        ModelLoadError: The device cannot be used (e.g. CUDA asked for but absent).
    """
    try:
        return module.to(device, _TORCH_DTYPES[dtype]).eval().requires_grad_(False)
    except (RuntimeError, AssertionError) as exc:
        raise ModelLoadError(f"device {device!s} is not usable: {exc}") from None
