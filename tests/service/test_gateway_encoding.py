"""Gateway output: resampling and every encoding, unary and streamed, decoded back."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from gateway.encoding import AudioEdge
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service.fake_stages import RATE, samples_for
from tests.service.runtime_helpers import read_rest

TIMEOUT_S = 20.0
TEXT = "你好世界。今天天气很好。我们去公园吧。"
_E = audio_pb2.AudioEncoding
MP3_FRAME = 1152  # samples per MPEG-1 Layer III frame (576 at 24 kHz MPEG-2)


def _flac_with_length(data: bytes, num_samples: int) -> bytes:
    """Streamed FLAC with its STREAMINFO total-samples field filled in.

    A streamed FLAC says "length unknown" (0), which the FLAC format allows and
    ffmpeg/flac accept, but libsndfile will not read; a client that knows the
    length (here: the test) can patch it into bits 108..143 of STREAMINFO.
    """
    assert data[:4] == b"fLaC"
    info = bytearray(data[8:42])
    packed = int.from_bytes(info[10:18], "big")
    packed = (packed & ~((1 << 36) - 1)) | num_samples
    info[10:18] = packed.to_bytes(8, "big")
    return data[:8] + bytes(info) + data[42:]


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(data), dtype="int16")
    return audio, rate


async def _synthesize(stub, stream: bool, **fields) -> bytes:
    if not stream:
        reply: gw.SynthesizeResponse = await stub.Synthesize(
            gw.SynthesizeRequest(text=TEXT, **fields), timeout=TIMEOUT_S
        )
        return reply.audio
    call = stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=TEXT, **fields), timeout=TIMEOUT_S
    )
    messages: list[gw.StreamSynthesizeResponse] = await read_rest(call)
    assert messages[0].header.sample_rate_hz == (fields.get("sample_rate_hz") or RATE)
    assert messages[-1].chunk.last_in_stream
    return b"".join(m.chunk.audio for m in messages[1:])


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("rate", [0, 24000], ids=["native", "24k"])
@pytest.mark.parametrize(
    "encoding",
    [
        _E.AUDIO_ENCODING_WAV,
        _E.AUDIO_ENCODING_FLAC,
        _E.AUDIO_ENCODING_OGG_OPUS,
        _E.AUDIO_ENCODING_MP3,
    ],
    ids=["wav", "flac", "opus", "mp3"],
)
async def test_each_encoding_decodes_to_the_right_rate_and_length(
    start_gateway, encoding: int, rate: int, stream: bool
) -> None:
    """The audio (a whole file, or the streamed chunks joined) decodes with
    soundfile at the requested rate with the expected number of samples; the
    lossless ones also match the raw PCM sample for sample."""
    gateway = await start_gateway()
    out_rate = rate or RATE
    expected = round(samples_for(TEXT) * out_rate / RATE)
    data = await _synthesize(
        gateway.stub, stream, encoding=encoding, sample_rate_hz=rate
    )
    if encoding == _E.AUDIO_ENCODING_FLAC and stream:
        data = _flac_with_length(data, expected)
    audio, decoded_rate = _decode(data)
    assert decoded_rate == out_rate
    if encoding == _E.AUDIO_ENCODING_MP3 and stream:
        # No Xing/Info frame can be filled in after the start was sent: decoders
        # keep LAME's placeholder frame and the encoder delay and padding.
        assert expected <= audio.size <= expected + 3 * MP3_FRAME
    else:
        assert audio.size == expected
    if encoding in (_E.AUDIO_ENCODING_WAV, _E.AUDIO_ENCODING_FLAC):
        raw = await _synthesize(gateway.stub, False, sample_rate_hz=rate)
        assert np.array_equal(audio, np.frombuffer(raw, "<i2"))


@pytest.mark.parametrize("rate", [0, 24000, 8000], ids=["native", "24k", "8k"])
async def test_resampled_pcm_is_the_same_unary_and_streamed(
    start_gateway, rate: int
) -> None:
    """Raw PCM at another rate has the resampled length, and streaming (resampled
    chunk by chunk) gives the very samples the unary call gives."""
    gateway = await start_gateway()
    unary = await _synthesize(gateway.stub, False, sample_rate_hz=rate)
    streamed = await _synthesize(gateway.stub, True, sample_rate_hz=rate)
    assert unary == streamed
    assert len(unary) // 2 == round(samples_for(TEXT) * (rate or RATE) / RATE)


async def test_streamed_wav_starts_with_an_unknown_length_header(start_gateway) -> None:
    """A streamed WAV is a 44-byte header whose sizes are 0xFFFFFFFF, then PCM."""
    gateway = await start_gateway()
    data = await _synthesize(gateway.stub, True, encoding=_E.AUDIO_ENCODING_WAV)
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    assert struct.unpack("<I", data[4:8])[0] == 0xFFFFFFFF
    assert data[36:40] == b"data" and struct.unpack("<I", data[40:44])[0] == 0xFFFFFFFF
    assert len(data) == 44 + 2 * samples_for(TEXT)


def test_streamed_container_bytes_arrive_before_the_end() -> None:
    """The incremental encoders hand bytes out while audio is still coming, not
    only at finish (FLAC by block, MP3 by frame, Opus by Ogg page)."""
    pcm = (np.sin(np.arange(RATE * 3) / 7) * 8000).astype(np.int16)
    for encoding in (
        _E.AUDIO_ENCODING_FLAC,
        _E.AUDIO_ENCODING_MP3,
        _E.AUDIO_ENCODING_OGG_OPUS,
    ):
        edge = AudioEdge(encoding, RATE, 0, streaming=True)
        early = b"".join(edge.push(pcm[i : i + 1600]) for i in range(0, pcm.size, 1600))
        tail = edge.finish()
        assert len(early) > len(tail), encoding


def test_gain_clips_instead_of_wrapping() -> None:
    """+12 dB on loud audio saturates at full scale rather than wrapping around."""
    edge = AudioEdge(_E.AUDIO_ENCODING_PCM_S16LE, RATE, 0, streaming=True)
    loud = np.full(100, 20000, np.int16)
    out = np.frombuffer(edge.push(loud, gain_db=12.0) + edge.finish(), "<i2")
    assert out.max() == 32767 and out.min() >= 0


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize(
    ("encoding", "subtype"),
    [(_E.AUDIO_ENCODING_MULAW, "ULAW"), (_E.AUDIO_ENCODING_ALAW, "ALAW")],
    ids=["mulaw", "alaw"],
)
async def test_g711_is_8k_by_default_and_decodes_to_the_pcm(
    start_gateway, encoding: audio_pb2.AudioEncoding, subtype: str, stream: bool
) -> None:
    """Telephony: headerless G.711 at 8 kHz when no rate is asked, one byte a
    sample, decoding to the 8 kHz PCM within G.711's quantization."""
    gateway = await start_gateway()
    if stream:
        call = gateway.stub.StreamSynthesize(
            gw.StreamSynthesizeRequest(text=TEXT, encoding=encoding), timeout=TIMEOUT_S
        )
        messages = await read_rest(call)
        assert messages[0].header.sample_rate_hz == 8000
        data = b"".join(m.chunk.audio for m in messages[1:])
    else:
        reply = await gateway.stub.Synthesize(
            gw.SynthesizeRequest(text=TEXT, encoding=encoding), timeout=TIMEOUT_S
        )
        assert (reply.sample_rate_hz, reply.encoding) == (8000, encoding)
        data = reply.audio
    pcm = np.frombuffer(
        await _synthesize(gateway.stub, False, sample_rate_hz=8000), "<i2"
    ).astype(np.int32)
    assert len(data) == pcm.size  # one byte a sample, no header
    decoded, _ = sf.read(
        io.BytesIO(data), dtype="int16", samplerate=8000, channels=1,
        format="RAW", subtype=subtype,
    )  # fmt: skip
    # G.711 keeps about 4 significant bits per segment: the error grows with the
    # sample, at most 1/16 of it (plus the smallest steps near zero).
    error = np.abs(decoded.astype(np.int32) - pcm)
    assert np.all(error <= np.abs(pcm) // 16 + 64), error.max()
    assert np.abs(pcm).max() > 1000
