"""How close two waves sound: SNR and spectral distances over STFT magnitudes (tests only).

Reduced-precision vocoders (bfloat16, float16) do not match float32 sample for
sample, so their tests compare what a listener hears: the magnitude spectrum, with a
floor so that the rounding noise in near-silent bins does not dominate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_FFT = 512
"""32 ms at 16 kHz: the resolution of a speech spectrogram."""
HOP = 128
FLOOR_DB = -60.0
"""Magnitudes below this (relative to the reference's loudest bin) count as this:
60 dB below the peak is where 16-bit PCM of quiet speech is mostly noise already."""


def stft_magnitude(wave: np.ndarray) -> np.ndarray:
    """|STFT| [frames, N_FFT // 2 + 1] with a Hann window (float64)."""
    x = np.asarray(wave, np.float64)
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    return np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1))


@dataclass(frozen=True)
class Closeness:
    """How far a wave is from its reference."""

    snr_db: float
    """Signal-to-noise ratio of the sample-wise difference, in dB."""
    lsd_db: float
    """Log-spectral distance: RMS over bins of the dB difference, averaged over
    frames (magnitudes floored at ``FLOOR_DB`` below the reference's peak)."""
    spectral_error_db: float
    """Energy of the magnitude difference relative to the reference's, in dB."""

    def __str__(self) -> str:
        return (
            f"SNR {self.snr_db:.1f} dB, LSD {self.lsd_db:.3f} dB, "
            f"spectral error {self.spectral_error_db:.1f} dB"
        )


def closeness(reference: np.ndarray, wave: np.ndarray) -> Closeness:
    """Compare ``wave`` with ``reference`` (same length, float audio)."""
    ref = np.asarray(reference, np.float64)
    out = np.asarray(wave, np.float64)
    if ref.shape != out.shape:
        raise ValueError(f"shapes differ: {ref.shape} vs {out.shape}")
    tiny = 1e-30
    snr = 10 * np.log10(np.sum(ref**2) / max(np.sum((out - ref) ** 2), tiny))
    mag_ref, mag_out = stft_magnitude(ref), stft_magnitude(out)
    floor = max(mag_ref.max(), tiny) * 10 ** (FLOOR_DB / 20)
    db_ref = 20 * np.log10(np.maximum(mag_ref, floor))
    db_out = 20 * np.log10(np.maximum(mag_out, floor))
    lsd = np.mean(np.sqrt(np.mean((db_out - db_ref) ** 2, axis=1)))
    error = np.sum((mag_out - mag_ref) ** 2) / max(np.sum(mag_ref**2), tiny)
    return Closeness(float(snr), float(lsd), float(10 * np.log10(max(error, tiny))))
