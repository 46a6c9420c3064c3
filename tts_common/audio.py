"""Mel and PCM codecs (wire bytes plus shape, checked), client encodings, resampling."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr

from sambert_tts_protos.v1 import audio_pb2
from tts_common.errors import InvalidInput

__all__ = [
    "G711_ENCODINGS",
    "MP3_CODEC_DELAY_SAMPLES",
    "MP3_SAMPLE_RATES_HZ",
    "OPUS_SAMPLE_RATES_HZ",
    "TELEPHONY_RATE_HZ",
    "StreamResampler",
    "apply_gain_db",
    "check_codec_rate",
    "decode_mel",
    "default_sample_rate_hz",
    "encode_audio",
    "encode_mel",
    "float_to_pcm16",
    "longest_inner_silence_s",
    "mp3_bitrate_kbps",
    "mp3_frame_samples",
    "pcm16_from_bytes",
    "pcm16_to_bytes",
    "resample",
]

OPUS_SAMPLE_RATES_HZ: frozenset[int] = frozenset({8000, 12000, 16000, 24000, 48000})
"""The only rates the Opus codec takes."""
MP3_SAMPLE_RATES_HZ: frozenset[int] = frozenset(
    {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}
)
"""The rates MPEG-1/2/2.5 Layer III defines."""
MP3_CODEC_DELAY_SAMPLES = 576 + 529
"""Samples of silence an MP3 decoder returns before the audio when no Info frame
says to trim them: LAME's encoder delay plus the Layer III decoder's delay."""
TELEPHONY_RATE_HZ = 8000
"""G.711's own rate: mu-law and A-law output when the request leaves the rate 0."""

_MEL_DTYPE = np.dtype("<f4")
_PCM_DTYPE = np.dtype("<i2")
_INT16_SCALE = 32767.0
_Enc = audio_pb2.AudioEncoding
G711_ENCODINGS: frozenset[int] = frozenset(
    {_Enc.AUDIO_ENCODING_MULAW, _Enc.AUDIO_ENCODING_ALAW}
)
"""Headerless 8-bit G.711 (telephony), any rate; 8 kHz by default."""
# encoding -> (libsndfile container, subtype)
_SOUNDFILE_FORMATS: dict[int, tuple[str, str]] = {
    _Enc.AUDIO_ENCODING_WAV: ("WAV", "PCM_16"),
    _Enc.AUDIO_ENCODING_FLAC: ("FLAC", "PCM_16"),
    _Enc.AUDIO_ENCODING_OGG_OPUS: ("OGG", "OPUS"),
    # VBR with LAME's Info frame (written at close): gapless, exact length.
    _Enc.AUDIO_ENCODING_MP3: ("MP3", "MPEG_LAYER_III"),
    _Enc.AUDIO_ENCODING_MULAW: ("RAW", "ULAW"),
    _Enc.AUDIO_ENCODING_ALAW: ("RAW", "ALAW"),
}

Int16Array = npt.NDArray[np.int16]
Float32Array = npt.NDArray[np.float32]


def encode_mel(mel: npt.ArrayLike) -> audio_pb2.MelSpectrogram:
    """Pack a mel ``[num_frames, num_mels]`` as float32 little-endian bytes.

    Raises:
        InvalidInput: ``mel`` is not 2-D.
    """
    array = np.asarray(mel)
    if array.ndim != 2:
        raise InvalidInput(
            f"mel must be 2-D [num_frames, num_mels], got shape {array.shape}"
        )
    data = np.ascontiguousarray(array, dtype=_MEL_DTYPE).tobytes()
    return audio_pb2.MelSpectrogram(
        data=data, num_frames=array.shape[0], num_mels=array.shape[1]
    )


def decode_mel(mel: audio_pb2.MelSpectrogram, expected_num_mels: int) -> Float32Array:
    """Unpack and check a mel from the wire.

    Args:
        mel: The message.
        expected_num_mels: The voice's mel bins per frame.

    Returns:
        A writable float32 array ``[num_frames, num_mels]``.

    Raises:
        InvalidInput: Wrong bin count, byte length not matching the shape, or NaN or
            infinite values; the message says what to send instead.
    """
    if mel.num_mels != expected_num_mels:
        raise InvalidInput(
            f"mel has {mel.num_mels} bins per frame but the voice expects "
            f"{expected_num_mels}; send [frames, {expected_num_mels}] float32"
        )
    expected_bytes = mel.num_frames * mel.num_mels * _MEL_DTYPE.itemsize
    if len(mel.data) != expected_bytes:
        raise InvalidInput(
            f"mel data is {len(mel.data)} bytes but {mel.num_frames} frames x "
            f"{mel.num_mels} bins of float32 little-endian need {expected_bytes}"
        )
    # astype copies: the result is writable and in native byte order.
    array = np.frombuffer(mel.data, dtype=_MEL_DTYPE).astype(np.float32)
    if not np.isfinite(array).all():
        raise InvalidInput("mel contains NaN or infinite values; send finite float32")
    return array.reshape(mel.num_frames, mel.num_mels)


def float_to_pcm16(audio: npt.ArrayLike) -> Int16Array:
    """Float audio in [-1, 1] to int16, clipping overs and mapping NaN to silence."""
    array: Float32Array = np.nan_to_num(np.asarray(audio, dtype=np.float32), nan=0.0)
    scaled: Float32Array = np.rint(np.clip(array, -1.0, 1.0) * _INT16_SCALE)
    return scaled.astype(np.int16)


def pcm16_to_bytes(pcm: npt.ArrayLike) -> bytes:
    """int16 samples to signed 16-bit little-endian bytes."""
    return np.asarray(pcm, dtype=np.int16).astype(_PCM_DTYPE, copy=False).tobytes()


def pcm16_from_bytes(data: bytes) -> Int16Array:
    """Signed 16-bit little-endian bytes to a writable int16 array.

    Raises:
        InvalidInput: The byte count is odd.
    """
    if len(data) % _PCM_DTYPE.itemsize:
        raise InvalidInput(f"16-bit PCM needs an even byte count, got {len(data)}")
    return np.frombuffer(data, dtype=_PCM_DTYPE).astype(np.int16)


def apply_gain_db(pcm: npt.ArrayLike, gain_db: float) -> Int16Array:
    """Scale int16 audio by ``gain_db`` decibels, clipping at full scale."""
    array = np.asarray(pcm, dtype=np.int16)
    if gain_db == 0:
        return array
    gain = np.float32(10.0 ** (gain_db / 20.0))
    scaled: Float32Array = np.rint(array.astype(np.float32) * gain)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def encode_audio(pcm: npt.ArrayLike, sample_rate_hz: int, encoding: int) -> bytes:
    """Encode mono int16 audio for a client.

    Args:
        pcm: int16 samples, 1-D.
        sample_rate_hz: Their rate.
        encoding: An ``AudioEncoding`` value; unspecified means raw PCM s16le, as
            the gateway proto documents.

    Returns:
        The encoded bytes: a complete file for the container encodings; one byte
        a sample for G.711 mu-law and A-law (no header).

    Raises:
        InvalidInput: Unknown encoding, a rate the codec cannot take (Opus: 8, 12,
            16, 24 or 48 kHz; MP3: the MPEG rates), non-1-D or empty audio for a
            container encoding.
    """
    array = np.asarray(pcm, dtype=np.int16)
    if array.ndim != 1:
        raise InvalidInput(f"audio must be mono 1-D, got shape {array.shape}")
    if sample_rate_hz <= 0:
        raise InvalidInput(f"sample rate must be positive, got {sample_rate_hz}")
    if encoding in (_Enc.AUDIO_ENCODING_UNSPECIFIED, _Enc.AUDIO_ENCODING_PCM_S16LE):
        return pcm16_to_bytes(array)
    if encoding not in _SOUNDFILE_FORMATS:
        raise InvalidInput(f"unknown audio encoding {encoding}")
    check_codec_rate(encoding, sample_rate_hz)
    if array.size == 0:
        if encoding in G711_ENCODINGS:
            return b""  # headerless: no samples, no bytes
        raise InvalidInput("no audio to encode")
    container, subtype = _SOUNDFILE_FORMATS[encoding]
    buffer = io.BytesIO()
    sf.write(buffer, array, sample_rate_hz, format=container, subtype=subtype)
    return buffer.getvalue()


def default_sample_rate_hz(encoding: int, voice_rate_hz: int) -> int:
    """The output rate when a request leaves ``sample_rate_hz`` 0: 8 kHz for
    G.711 (what telephony expects), the voice's own rate otherwise."""
    return TELEPHONY_RATE_HZ if encoding in G711_ENCODINGS else voice_rate_hz


def mp3_frame_samples(sample_rate_hz: int) -> int:
    """Samples per Layer III frame: 1152 for MPEG-1 (32-48 kHz), 576 below."""
    return 1152 if sample_rate_hz >= 32000 else 576


def mp3_bitrate_kbps(sample_rate_hz: int) -> int:
    """The constant bitrate of streamed MP3: enough for clean mono speech at the
    rate (64 kbit/s for MPEG-1 rates, 48 for 16-24 kHz, 32 below)."""
    if sample_rate_hz >= 32000:
        return 64
    return 48 if sample_rate_hz >= 16000 else 32


def check_codec_rate(encoding: int, sample_rate_hz: int) -> None:
    """Refuse rates a codec cannot encode, naming the ones it can.

    Raises:
        InvalidInput: ``encoding`` cannot carry ``sample_rate_hz``.
    """
    if encoding == _Enc.AUDIO_ENCODING_OGG_OPUS:
        allowed, name = OPUS_SAMPLE_RATES_HZ, "OGG_OPUS"
    elif encoding == _Enc.AUDIO_ENCODING_MP3:
        allowed, name = MP3_SAMPLE_RATES_HZ, "MP3"
    else:
        return
    if sample_rate_hz not in allowed:
        rates = ", ".join(str(r) for r in sorted(allowed))
        raise InvalidInput(
            f"{name} cannot encode {sample_rate_hz} Hz; "
            f"set sample_rate_hz to one of {rates}"
        )


def _round_pcm16(samples: np.ndarray) -> Int16Array:
    out: Int16Array = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    return out


def resample(pcm: npt.ArrayLike, from_hz: int, to_hz: int) -> Int16Array:
    """Resample a whole mono int16 signal with soxr (high quality).

    soxr works in float32 and the rounding to int16 is ours: soxr's own int16 path
    dithers, so two runs over the same audio would differ (and a cache hit would not
    equal its miss).

    Raises:
        InvalidInput: A rate is not positive.
    """
    if from_hz <= 0 or to_hz <= 0:
        raise InvalidInput(f"sample rates must be positive, got {from_hz} -> {to_hz}")
    array = np.asarray(pcm, dtype=np.int16)
    if from_hz == to_hz or array.size == 0:
        return array
    return _round_pcm16(
        soxr.resample(array.astype(np.float32), from_hz, to_hz, quality="HQ")
    )


class StreamResampler:
    """Resamples a signal that arrives in chunks, with no seams between them.

    Resampling each chunk on its own would restart the filter at every chunk edge
    and click; this keeps the filter state across :meth:`process` calls. Like
    :func:`resample` it runs in float32 and rounds deterministically, so the output
    does not depend on how the input was chunked or on the run.
    """

    def __init__(self, from_hz: int, to_hz: int) -> None:
        """Create the stream.

        Raises:
            InvalidInput: A rate is not positive.
        """
        if from_hz <= 0 or to_hz <= 0:
            raise InvalidInput(
                f"sample rates must be positive, got {from_hz} -> {to_hz}"
            )
        self.passthrough = from_hz == to_hz
        self._stream = (
            None
            if self.passthrough
            else soxr.ResampleStream(from_hz, to_hz, 1, dtype="float32", quality="HQ")
        )

    def process(self, pcm: npt.ArrayLike, last: bool = False) -> Int16Array:
        """Resample the next chunk; pass ``last=True`` with the final one to flush."""
        array = np.asarray(pcm, dtype=np.int16)
        if self._stream is None:
            return array
        out = self._stream.resample_chunk(array.astype(np.float32), last=last)
        return _round_pcm16(np.asarray(out, dtype=np.float32))


def longest_inner_silence_s(
    pcm: np.ndarray, rate: int, below_db: float = -45.0
) -> float:
    """Longest run of 10 ms frames ``below_db`` under the loudest frame, edges excluded."""
    hop = rate // 100
    n = len(pcm) // hop
    if n == 0:
        return 0.0
    frames = pcm[: n * hop].reshape(n, hop).astype(np.float64)
    db = 10 * np.log10((frames**2).mean(axis=1) + 1e-12)
    loud = np.flatnonzero(db > db.max() + below_db)
    quiet = db[loud[0] : loud[-1] + 1] <= db.max() + below_db
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best * hop / rate
