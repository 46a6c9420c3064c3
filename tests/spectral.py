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


@dataclass(frozen=True)
class Tolerance:
    """The farthest a reduced-precision wave may be from float32's."""

    min_snr_db: float
    max_lsd_db: float
    max_spectral_error_db: float

    def check(self, reference: np.ndarray, wave: np.ndarray, what: str) -> Closeness:
        """Assert that ``wave`` is within this tolerance of ``reference``."""
        got = closeness(reference, wave)
        assert got.snr_db >= self.min_snr_db, f"{what}: {got}"
        assert got.lsd_db <= self.max_lsd_db, f"{what}: {got}"
        assert got.spectral_error_db <= self.max_spectral_error_db, f"{what}: {got}"
        return got


# Why these numbers. The spectral bar is the classic transparency criterion for
# spectral envelopes (mean spectral distortion of 1 dB, Paliwal & Atal 1993); SNR
# is there too because a 1 dB gain change passes an LSD bar alone (LSD 0.99 dB,
# SNR 18 dB). Observed on the golden random-weight vocoders (CPU, oneDNN), against
# the float32 reference: bfloat16 SNR 37.5-42.2 dB, LSD 0.41-0.53 dB, spectral error
# -40.6 to -46.6 dB; float16 SNR 56.3-60.1 dB, LSD 0.05-0.07 dB, error -60.5 to
# -64.4 dB. float16 keeps 3 more mantissa bits (18 dB), so its bar is 15 dB tighter:
# a float16 run that silently fell back to bfloat16 arithmetic fails it. Each bar
# leaves ~8 dB for other kernels (cuDNN sums in other orders) and still rejects a
# mel with noise of 5% of its spread (SNR 28.6 dB, LSD 1.19 dB).
TOLERANCE = {
    "bfloat16": Tolerance(min_snr_db=30.0, max_lsd_db=1.0, max_spectral_error_db=-30.0),
    "float16": Tolerance(min_snr_db=45.0, max_lsd_db=0.25, max_spectral_error_db=-45.0),
}
"""Per reduced dtype: how close its audio must stay to float32's."""
