"""The gateway's streamed encodings (gateway.encoding.AudioEdge) as real readers see
them: soundfile (libsndfile/mpg123) always, ffmpeg/ffprobe where installed."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gateway.encoding import AudioEdge, wav_header
from sambert_tts_protos.v1 import audio_pb2
from tts_common.audio import (
    MP3_CODEC_DELAY_SAMPLES,
    MP3_SAMPLE_RATES_HZ,
    mp3_bitrate_kbps,
    mp3_frame_samples,
)

_E = audio_pb2.AudioEncoding
FFMPEG_MISSING = "ffmpeg/ffprobe not installed (Debian: apt-get install -y ffmpeg)"
needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason=FFMPEG_MISSING,
)
# headerless encodings: (ffmpeg -f, soundfile RAW subtype)
RAW_FORMATS: dict[int, tuple[str, str]] = {
    _E.AUDIO_ENCODING_PCM_S16LE: ("s16le", "PCM_16"),
    _E.AUDIO_ENCODING_MULAW: ("mulaw", "ULAW"),
    _E.AUDIO_ENCODING_ALAW: ("alaw", "ALAW"),
}


def speechlike(rate: int, seconds: float) -> np.ndarray:
    """A tone whose loudness and pitch move, with quiet gaps (encoders treat
    silence and steady tones specially; speech is neither)."""
    t = np.arange(int(rate * seconds)) / rate
    pitch = 180 + 60 * np.sin(2 * np.pi * 0.7 * t)
    envelope = np.clip(np.sin(2 * np.pi * 1.3 * t), 0, None) ** 0.5
    wave = np.sin(2 * np.pi * np.cumsum(pitch) / rate) * envelope * 9000
    return wave.astype(np.int16)


def stream(
    encoding: int, pcm: np.ndarray, rate: int, out_rate: int = 0, chunk: int = 1234
) -> tuple[bytes, bytes, AudioEdge]:
    """The stream's bytes, its final header and the edge that made them."""
    edge = AudioEdge(encoding, rate, out_rate, streaming=True)
    data = b"".join(edge.push(pcm[i : i + chunk]) for i in range(0, pcm.size, chunk))
    assert edge.final_header == b""  # only once finished
    data += edge.finish()
    return data, edge.final_header, edge


def unary(encoding: int, pcm: np.ndarray, rate: int, out_rate: int = 0) -> bytes:
    edge = AudioEdge(encoding, rate, out_rate, streaming=False)
    edge.push(pcm)
    return edge.finish()


def soundfile_samples(data: bytes, encoding: int, rate: int) -> int:
    """Samples soundfile decodes (raw encodings read as RAW at ``rate``)."""
    if encoding in RAW_FORMATS:
        raw = {"samplerate": rate, "channels": 1, "format": "RAW"}
        audio, _ = sf.read(io.BytesIO(data), subtype=RAW_FORMATS[encoding][1], **raw)
    else:
        audio, got_rate = sf.read(io.BytesIO(data))
        assert got_rate == rate
    return len(audio)


def _raw_args(encoding: int, rate: int) -> list[str]:
    if encoding not in RAW_FORMATS:
        return []
    return ["-f", RAW_FORMATS[encoding][0], "-ar", str(rate), "-ac", "1"]


def ffmpeg_samples(path: Path, encoding: int, rate: int) -> int:
    """Samples ffmpeg decodes from the saved file, checked to be at ``rate``."""
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", *_raw_args(encoding, rate), "-i",
         str(path), "-f", "s16le", "-ac", "1", "-ar", str(rate), "pipe:1"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert not out.stderr, out.stderr[:500]
    return len(out.stdout) // 2


def ffprobe_samples(path: Path, encoding: int, rate: int) -> int:
    """ffprobe's duration of the saved file (no decoding), in samples at its rate."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", *_raw_args(encoding, rate), "-show_entries",
         "format=duration:stream=sample_rate", "-of", "json", str(path)],
        capture_output=True, check=True, text=True, timeout=60,
    )  # fmt: skip
    info = json.loads(out.stdout)
    # Opus always decodes at 48 kHz; the rate it was made at is in its header.
    opus = 48000 if encoding == _E.AUDIO_ENCODING_OGG_OPUS else rate
    assert int(info["streams"][0]["sample_rate"]) in (rate, opus)
    return round(float(info["format"]["duration"]) * rate)


def slack(encoding: int, rate: int) -> int:
    """How many samples over the true length a reader may report (never under).

    Lossless and raw encodings: none. Ogg Opus: one 20 ms frame (ffprobe counts
    the pre-skip). MP3 without an Info frame (a stream; ffprobe always): LAME's
    fixed delay plus the last frame's padding, under one frame.
    """
    if encoding == _E.AUDIO_ENCODING_MP3:
        return MP3_CODEC_DELAY_SAMPLES + mp3_frame_samples(rate) - 1
    if encoding == _E.AUDIO_ENCODING_OGG_OPUS:
        return rate // 50
    return 0


def mp3_frames(data: bytes) -> list[tuple[int, int, int]]:
    """Walk an MP3 frame by frame: (bitrate kbit/s, sample rate, frame bytes) each;
    fails on anything that is not a whole Layer III frame."""
    kbps = {
        3: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
        2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    }
    rates = {
        3: (44100, 48000, 32000),
        2: (22050, 24000, 16000),
        0: (11025, 12000, 8000),
    }
    frames, pos = [], 0
    while pos < len(data):
        assert len(data) - pos >= 4, f"{len(data) - pos} stray bytes at the end"
        (header,) = struct.unpack(">I", data[pos : pos + 4])
        assert header >> 21 == 0x7FF, f"no frame sync at byte {pos}"
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        assert layer == 1, "not Layer III"
        bitrate = kbps[3 if version == 3 else 2][(header >> 12) & 15]
        rate = rates[version][(header >> 10) & 3]
        size = (144 if version == 3 else 72) * bitrate * 1000 // rate
        size += (header >> 9) & 1  # the padding slot
        frames.append((bitrate, rate, size))
        pos += size
    assert pos == len(data), "the last frame is cut short"
    return frames


@pytest.mark.parametrize("rate", sorted(MP3_SAMPLE_RATES_HZ))
def test_streamed_mp3_is_constant_bitrate_whole_frames(rate: int) -> None:
    """Every frame has the same bitrate, the stream is whole frames end to end, and
    there is no Info/Xing frame (it could only be a placeholder in a stream)."""
    data, final_header, _ = stream(_E.AUDIO_ENCODING_MP3, speechlike(rate, 1.5), rate)
    frames = mp3_frames(data)
    assert {(b, r) for b, r, _ in frames} == {(mp3_bitrate_kbps(rate), rate)}
    assert b"Xing" not in data[:200] and b"Info" not in data[:200]
    assert final_header == b""


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
@pytest.mark.parametrize("chunk", [160, 4000])
def test_streamed_mp3_decodes_to_the_full_length(rate: int, chunk: int) -> None:
    """soundfile decodes all of a streamed MP3, however it was chunked: the audio
    plus LAME's fixed delay, at most one frame more (libsndfile estimated a VBR
    stream's length from its first frame and stopped at 20-80 %)."""
    pcm = speechlike(rate, 3.42)
    data, _, edge = stream(_E.AUDIO_ENCODING_MP3, pcm, rate, chunk=chunk)
    assert edge.num_samples == pcm.size
    over = soundfile_samples(data, _E.AUDIO_ENCODING_MP3, rate) - pcm.size
    assert MP3_CODEC_DELAY_SAMPLES <= over <= slack(_E.AUDIO_ENCODING_MP3, rate)


@pytest.mark.parametrize("encoding", [_E.AUDIO_ENCODING_WAV, _E.AUDIO_ENCODING_FLAC])
@pytest.mark.parametrize(
    ("rate", "out_rate"), [(16000, 0), (16000, 8000), (22050, 48000)]
)
def test_final_header_makes_the_stream_the_unary_file(
    encoding: int, rate: int, out_rate: int
) -> None:
    """A streamed WAV or FLAC with its final header written over its start is,
    byte for byte, the complete file a unary call returns."""
    pcm = speechlike(rate, 1.3)
    data, final_header, _ = stream(encoding, pcm, rate, out_rate)
    assert len(final_header) == (44 if encoding == _E.AUDIO_ENCODING_WAV else 42)
    assert final_header + data[len(final_header) :] == unary(
        encoding, pcm, rate, out_rate
    )


def test_streamed_wav_and_flac_say_length_unknown_until_the_final_header() -> None:
    """The stream's own header: WAV sizes 0xFFFFFFFF, FLAC total samples 0; the
    final header has the true counts."""
    pcm = speechlike(16000, 1.0)
    wav, wav_final, _ = stream(_E.AUDIO_ENCODING_WAV, pcm, 16000)
    assert wav[:44] == wav_header(16000, None)
    assert struct.unpack("<I", wav[4:8])[0] == struct.unpack("<I", wav[40:44])[0]
    assert struct.unpack("<I", wav[40:44])[0] == 0xFFFFFFFF
    assert struct.unpack("<I", wav_final[40:44])[0] == 2 * pcm.size
    assert struct.unpack("<I", wav_final[4:8])[0] == 36 + 2 * pcm.size

    flac, flac_final, _ = stream(_E.AUDIO_ENCODING_FLAC, pcm, 16000)

    def total_samples(head: bytes) -> int:
        assert head[:4] == b"fLaC" and head[4] & 0x7F == 0  # STREAMINFO first
        return int.from_bytes(head[8 + 13 : 8 + 18], "big") & ((1 << 36) - 1)

    assert total_samples(flac) == 0
    assert total_samples(flac_final) == pcm.size


@pytest.mark.parametrize("encoding", [_E.AUDIO_ENCODING_MULAW, _E.AUDIO_ENCODING_ALAW])
def test_streamed_g711_is_the_unary_bytes(encoding: int) -> None:
    """G.711 streams one byte a sample, chunk by chunk, the same bytes as unary;
    no header either way."""
    pcm = speechlike(16000, 1.0)
    data, final_header, edge = stream(encoding, pcm, 16000, 8000, chunk=999)
    assert data == unary(encoding, pcm, 16000, 8000)
    assert len(data) == edge.num_samples == 8000 and final_header == b""


@needs_ffmpeg
@pytest.mark.parametrize("rate", [8000, 16000, 22050, 48000])
def test_ffmpeg_reads_the_streamed_mp3_whole(rate: int, tmp_path: Path) -> None:
    """ffmpeg decodes, and ffprobe (from the byte count) measures, the same full
    length of a streamed MP3 saved to a file."""
    pcm = speechlike(rate, 2.0)
    data, _, _ = stream(_E.AUDIO_ENCODING_MP3, pcm, rate)
    path = tmp_path / "s.mp3"
    path.write_bytes(data)
    decoded = ffmpeg_samples(path, _E.AUDIO_ENCODING_MP3, rate)
    assert (
        MP3_CODEC_DELAY_SAMPLES
        <= decoded - pcm.size
        <= slack(_E.AUDIO_ENCODING_MP3, rate)
    )
    frames = len(mp3_frames(data))
    assert decoded == frames * mp3_frame_samples(rate)
    assert abs(ffprobe_samples(path, _E.AUDIO_ENCODING_MP3, rate) - decoded) <= 1


@needs_ffmpeg
@pytest.mark.parametrize("encoding", [_E.AUDIO_ENCODING_WAV, _E.AUDIO_ENCODING_FLAC])
def test_ffmpeg_reads_wav_and_flac_streams_without_the_final_header(
    encoding: int, tmp_path: Path
) -> None:
    """The streamable form: a reader that never applies the final header (a pipe)
    still gets every sample from ffmpeg."""
    pcm = speechlike(16000, 1.7)
    data, _, _ = stream(encoding, pcm, 16000)
    path = tmp_path / "s.audio"
    path.write_bytes(data)
    assert ffmpeg_samples(path, encoding, 16000) == pcm.size


@needs_ffmpeg
@pytest.mark.parametrize(
    ("encoding", "fmt"),
    [(_E.AUDIO_ENCODING_MULAW, "mulaw"), (_E.AUDIO_ENCODING_ALAW, "alaw")],
)
def test_g711_decodes_the_same_in_ffmpeg_and_soundfile(
    encoding: int, fmt: str, tmp_path: Path
) -> None:
    """An independent G.711 decoder (ffmpeg's) gives the very samples libsndfile
    decodes, over every 16-bit input value."""
    pcm = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    data, _, _ = stream(encoding, pcm, 8000)
    path = tmp_path / f"s.{fmt}"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", fmt, "-ar", "8000", "-ac", "1",
         "-i", str(path), "-f", "s16le", "pipe:1"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    ours, _ = sf.read(
        io.BytesIO(data), samplerate=8000, channels=1, format="RAW",
        subtype=RAW_FORMATS[encoding][1], dtype="int16",
    )  # fmt: skip
    np.testing.assert_array_equal(np.frombuffer(out.stdout, "<i2"), ours)
