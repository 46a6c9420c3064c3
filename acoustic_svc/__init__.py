"""Acoustic stage: KAN-TTS Sambert, symbols -> streamed mel spectrogram."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acoustic_svc.sambert import SambertAcoustic

__all__ = ["load_acoustic_model"]


def load_acoustic_model(
    model_dir: str | Path, voice: str | None = None, device: str = "cpu"
) -> SambertAcoustic:
    """Load a voice's Sambert from a ModelScope model dir (see acoustic_svc.sambert).

    Imported lazily so that ``import acoustic_svc`` (servicers) stays torch-free.
    """
    from acoustic_svc.sambert import load_acoustic_model as _load

    return _load(model_dir, voice, device)
