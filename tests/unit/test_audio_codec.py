"""Mel wire codec, PCM helpers, client encodings and resampling in tts_common.audio."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from sambert_tts_protos.v1 import audio_pb2
from tts_common.audio import (
    MP3_SAMPLE_RATES_HZ,
    TELEPHONY_RATE_HZ,
    StreamResampler,
    apply_gain_db,
    decode_mel,
    default_sample_rate_hz,
    encode_audio,
    encode_mel,
    float_to_pcm16,
    pcm16_from_bytes,
    pcm16_to_bytes,
    resample,
)
from tts_common.errors import InvalidInput

Enc = audio_pb2.AudioEncoding


def _mel(frames: int = 7, mels: int = 80) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((frames, mels)).astype(np.float32)


def _tone(hz: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * hz * t) * 12000).astype(np.int16)


def _dominant_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[np.argmax(spectrum)])


def test_mel_round_trip_is_exact() -> None:
    """decode(encode(mel)) gives the same float32 values and shape."""
    mel = _mel()
    pb = encode_mel(mel)
    assert (pb.num_frames, pb.num_mels) == (7, 80)
    out = decode_mel(pb, expected_num_mels=80)
    assert out.dtype == np.float32 and out.flags.writeable
    np.testing.assert_array_equal(out, mel)


def test_mel_bytes_are_little_endian_frame_major() -> None:
    """Chunk bytes concatenate into whole-mel bytes; values are float32 LE."""
    mel = _mel(frames=10, mels=4)
    whole = encode_mel(mel).data
    assert whole[:4] == np.float32(mel[0, 0]).astype("<f4").tobytes()
    assert encode_mel(mel[:3]).data + encode_mel(mel[3:]).data == whole


def test_encode_mel_casts_float64_and_rejects_1d() -> None:
    """float64 input is sent as float32; a 1-D array is refused."""
    pb = encode_mel(np.ones((2, 3), dtype=np.float64))
    assert len(pb.data) == 2 * 3 * 4
    with pytest.raises(InvalidInput, match="2-D"):
        encode_mel(np.ones(5, dtype=np.float32))


def test_decode_mel_rejects_wrong_bin_count() -> None:
    """A mel with another bin count is refused, naming the expected count."""
    with pytest.raises(InvalidInput, match=r"expects 80.*\[frames, 80\]"):
        decode_mel(encode_mel(_mel(mels=40)), expected_num_mels=80)


def test_decode_mel_rejects_length_mismatch() -> None:
    """Bytes that do not match num_frames x num_mels x 4 are refused."""
    pb = encode_mel(_mel(frames=3, mels=80))
    pb.num_frames = 4
    with pytest.raises(InvalidInput, match="need 1280"):
        decode_mel(pb, expected_num_mels=80)
    pb.num_frames = 3
    pb.data = pb.data[:-2]
    with pytest.raises(InvalidInput, match="float32"):
        decode_mel(pb, expected_num_mels=80)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_decode_mel_rejects_non_finite(bad: float) -> None:
    """NaN or infinite values are refused before they reach the vocoder."""
    mel = _mel(frames=2, mels=3)
    mel[1, 2] = bad
    with pytest.raises(InvalidInput, match="NaN or infinite"):
        decode_mel(encode_mel(mel), expected_num_mels=3)


def test_decode_mel_accepts_empty_closing_chunk() -> None:
    """A zero-frame chunk (a closing `last` chunk) decodes to shape [0, num_mels]."""
    out = decode_mel(audio_pb2.MelSpectrogram(num_frames=0, num_mels=80), 80)
    assert out.shape == (0, 80)


def test_float_to_pcm16_scales_and_clips() -> None:
    """Full scale maps to +-32767, overs clip, NaN becomes silence."""
    out = float_to_pcm16(np.array([0.0, 1.0, -1.0, 1.7, -3.0, np.nan, 0.25]))
    assert out.dtype == np.int16
    assert out.tolist() == [0, 32767, -32767, 32767, -32767, 0, 8192]


def test_pcm16_bytes_are_little_endian_and_round_trip() -> None:
    """int16 <-> s16le bytes, and an odd byte count is refused."""
    assert pcm16_to_bytes(np.array([1, -2], dtype=np.int16)) == b"\x01\x00\xfe\xff"
    pcm = _tone(440, 8000, 0.01)
    np.testing.assert_array_equal(pcm16_from_bytes(pcm16_to_bytes(pcm)), pcm)
    with pytest.raises(InvalidInput, match="even"):
        pcm16_from_bytes(b"\x00\x01\x02")


def test_apply_gain_db() -> None:
    """+6 dB roughly doubles, with clipping; 0 dB is the identity."""
    pcm = np.array([1000, -1000, 30000], dtype=np.int16)
    assert apply_gain_db(pcm, 6.0).tolist() == [1995, -1995, 32767]
    np.testing.assert_array_equal(apply_gain_db(pcm, 0.0), pcm)


@pytest.mark.parametrize(
    "encoding", [Enc.AUDIO_ENCODING_PCM_S16LE, Enc.AUDIO_ENCODING_UNSPECIFIED]
)
def test_raw_pcm_encoding(encoding: int) -> None:
    """Raw PCM (and unspecified, its documented default) is the s16le bytes."""
    pcm = _tone(440, 16000, 0.05)
    assert encode_audio(pcm, 16000, encoding) == pcm.astype("<i2").tobytes()


@pytest.mark.parametrize(
    ("encoding", "container"),
    [(Enc.AUDIO_ENCODING_WAV, "WAV"), (Enc.AUDIO_ENCODING_FLAC, "FLAC")],
)
def test_lossless_encodings_decode_to_the_same_samples(
    encoding: int, container: str
) -> None:
    """WAV and FLAC are complete files holding exactly the input samples."""
    pcm = _tone(440, 22050, 0.2)
    data = encode_audio(pcm, 22050, encoding)
    with sf.SoundFile(io.BytesIO(data)) as f:
        assert (f.format, f.samplerate, f.channels) == (container, 22050, 1)
        np.testing.assert_array_equal(f.read(dtype="int16"), pcm)


@pytest.mark.parametrize(
    ("encoding", "container", "rate"),
    [
        (Enc.AUDIO_ENCODING_OGG_OPUS, "OGG", 16000),
        (Enc.AUDIO_ENCODING_MP3, "MP3", 22050),
    ],
)
def test_lossy_encodings_keep_rate_length_and_pitch(
    encoding: int, container: str, rate: int
) -> None:
    """Opus and MP3 produce decodable files at the asked rate with the same tone."""
    pcm = _tone(500, rate, 1.0)
    data = encode_audio(pcm, rate, encoding)
    assert len(data) < pcm.nbytes / 4  # actually compressed
    decoded, decoded_rate = sf.read(io.BytesIO(data), dtype="int16")
    with sf.SoundFile(io.BytesIO(data)) as f:
        assert f.format == container
    assert decoded_rate == rate
    assert abs(len(decoded) - len(pcm)) < rate * 0.1
    assert abs(_dominant_hz(decoded, rate) - 500) < 5


@pytest.mark.parametrize("rate", sorted(MP3_SAMPLE_RATES_HZ))
def test_unary_mp3_is_gapless_to_the_sample(rate: int) -> None:
    """A unary MP3 carries LAME's Info frame: soundfile trims the encoder delay and
    padding and returns exactly the samples encoded, at every MPEG rate."""
    pcm = _tone(300, rate, 1.3)
    decoded, decoded_rate = sf.read(
        io.BytesIO(encode_audio(pcm, rate, Enc.AUDIO_ENCODING_MP3)), dtype="int16"
    )
    assert (decoded_rate, len(decoded)) == (rate, len(pcm))


@pytest.mark.parametrize(
    ("encoding", "subtype", "silence"),
    [(Enc.AUDIO_ENCODING_MULAW, "ULAW", 0xFF), (Enc.AUDIO_ENCODING_ALAW, "ALAW", 0xD5)],
)
def test_g711_is_one_byte_a_sample_within_its_quantization(
    encoding: int, subtype: str, silence: int
) -> None:
    """mu-law and A-law: headerless, one byte a sample, G.711's code for silence
    (0xFF, 0xD5), and a decode within G.711's logarithmic steps (under 1/16 of the
    value, or the smallest step near zero)."""
    pcm = _tone(440, 8000, 0.5)
    pcm[:10] = 0
    data = encode_audio(pcm, 8000, encoding)
    assert len(data) == pcm.size and set(data[:10]) == {silence}
    decoded, _ = sf.read(
        io.BytesIO(data), samplerate=8000, channels=1, format="RAW",
        subtype=subtype, dtype="int16",
    )  # fmt: skip
    error = np.abs(decoded.astype(np.int32) - pcm.astype(np.int32))
    assert (error <= np.abs(pcm.astype(np.int32)) // 16 + 16).all()
    assert encode_audio(pcm[:0], 8000, encoding) == b""  # no header, no bytes


def test_g711_defaults_to_8k_and_takes_any_rate() -> None:
    """A request that leaves the rate 0 gets 8 kHz for G.711, the voice's rate
    otherwise; G.711 itself encodes any rate asked for."""
    assert TELEPHONY_RATE_HZ == 8000
    assert default_sample_rate_hz(Enc.AUDIO_ENCODING_MULAW, 16000) == 8000
    assert default_sample_rate_hz(Enc.AUDIO_ENCODING_ALAW, 22050) == 8000
    assert default_sample_rate_hz(Enc.AUDIO_ENCODING_MP3, 22050) == 22050
    pcm = _tone(440, 44100, 0.1)
    assert len(encode_audio(pcm, 44100, Enc.AUDIO_ENCODING_ALAW)) == pcm.size


@pytest.mark.parametrize(
    ("encoding", "rate", "hint"),
    [
        (Enc.AUDIO_ENCODING_OGG_OPUS, 22050, "24000"),
        (Enc.AUDIO_ENCODING_MP3, 96000, "44100"),
    ],
)
def test_codec_rate_limits_are_invalid_input(
    encoding: int, rate: int, hint: str
) -> None:
    """A rate the codec cannot take is the caller's error, listing the valid rates."""
    with pytest.raises(InvalidInput, match=hint):
        encode_audio(_tone(440, rate, 0.1), rate, encoding)


def test_encode_audio_rejects_bad_input() -> None:
    """Unknown encodings, stereo, empty container audio and bad rates are refused."""
    pcm = _tone(440, 16000, 0.1)
    with pytest.raises(InvalidInput, match="unknown audio encoding"):
        encode_audio(pcm, 16000, 99)
    with pytest.raises(InvalidInput, match="mono"):
        encode_audio(np.stack([pcm, pcm], axis=1), 16000, Enc.AUDIO_ENCODING_WAV)
    with pytest.raises(InvalidInput, match="no audio"):
        encode_audio(pcm[:0], 16000, Enc.AUDIO_ENCODING_FLAC)
    with pytest.raises(InvalidInput, match="positive"):
        encode_audio(pcm, 0, Enc.AUDIO_ENCODING_WAV)


def test_resample_changes_length_not_pitch() -> None:
    """16 -> 24 kHz gives 1.5x the samples and the same tone; same rate is a no-op."""
    pcm = _tone(440, 16000, 1.0)
    out = resample(pcm, 16000, 24000)
    assert out.dtype == np.int16 and len(out) == 24000
    assert abs(_dominant_hz(out, 24000) - 440) < 2
    np.testing.assert_array_equal(resample(pcm, 16000, 16000), pcm)
    with pytest.raises(InvalidInput):
        resample(pcm, 16000, 0)


def test_stream_resampler_matches_whole_signal() -> None:
    """Chunked streaming resampling equals one-shot resampling (no seams at edges)."""
    pcm = _tone(440, 16000, 1.0)
    whole = resample(pcm, 16000, 24000)
    stream = StreamResampler(16000, 24000)
    parts = [stream.process(pcm[i : i + 1234]) for i in range(0, len(pcm), 1234)]
    parts.append(stream.process(pcm[:0], last=True))
    chunked = np.concatenate(parts)
    assert len(chunked) == len(whole)
    assert np.abs(chunked.astype(np.int32) - whole.astype(np.int32)).max() <= 4


def test_stream_resampler_passthrough() -> None:
    """Equal rates pass chunks through untouched."""
    stream = StreamResampler(16000, 16000)
    pcm = _tone(440, 16000, 0.01)
    assert stream.passthrough
    np.testing.assert_array_equal(stream.process(pcm), pcm)
