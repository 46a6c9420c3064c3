"""16-bit mono WAV files of float audio; numpy and the standard library only, so the
teacher's venv can import it too."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

__all__ = ["write_pcm16"]


def write_pcm16(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio in [-1, 1] (clipped) to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(sample_rate)
        fh.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
