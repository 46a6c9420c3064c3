"""Vocoder stage: mel spectrogram to waveform with a HiFi-GAN generator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vocoder_svc.model import Vocoder

if TYPE_CHECKING:
    import torch

__all__ = ["Vocoder", "load_vocoder"]


def load_vocoder(
    model_dir: str | Path,
    voice: str | None = None,
    device: str | torch.device = "cpu",
    dtype: str | None = None,
) -> Vocoder:
    """Load a voice's HiFi-GAN vocoder; see :func:`vocoder_svc.loading.load_vocoder`.

    The torch-based adapter is imported here, not at package import, so that the
    servicer can import this package without pulling in torch.
    """
    from vocoder_svc.loading import load_vocoder as _load

    return _load(model_dir, voice, device, dtype)
