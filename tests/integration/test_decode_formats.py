"""Every encoding from every path of the real stack, read by real readers.

For PCM, WAV, FLAC, OGG_OPUS, MP3, MULAW and ALAW, through unary gRPC, streaming
gRPC (the final header written over the start where the gateway sends one) and the
HTTP bridge, the audio is saved to a file and read by soundfile (libsndfile and its
mpg123), ffmpeg (decoding) and ffprobe (measuring): each must give the duration the
gateway reported, within one codec frame (``slack``). A streamed WAV or FLAC read
without its final header must still decode whole in ffmpeg (the streamable form).
"""

from __future__ import annotations

import http.client
import json
import shutil
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest

from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2_grpc
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.golden import GOLDEN
from tests.integration.test_stack import TWO_SENTENCES
from tests.unit.test_stream_encoding import (
    FFMPEG_MISSING,
    ffmpeg_samples,
    ffprobe_samples,
    slack,
    soundfile_samples,
)
from tts_common.stack import LocalStack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
        reason=FFMPEG_MISSING,
    ),
]
_E = audio_pb2.AudioEncoding
TIMEOUT_S = 120
# encoding -> (HTTP response_format, Content-Type, sent whole with Content-Length)
HTTP: dict[audio_pb2.AudioEncoding, tuple[str, str, bool]] = {
    _E.AUDIO_ENCODING_PCM_S16LE: ("pcm", "audio/pcm", False),
    _E.AUDIO_ENCODING_WAV: ("wav", "audio/wav", True),
    _E.AUDIO_ENCODING_FLAC: ("flac", "audio/flac", True),
    _E.AUDIO_ENCODING_OGG_OPUS: ("opus", "audio/ogg; codecs=opus", False),
    _E.AUDIO_ENCODING_MP3: ("mp3", "audio/mpeg", False),
    _E.AUDIO_ENCODING_MULAW: ("mulaw", "audio/basic", False),
    _E.AUDIO_ENCODING_ALAW: ("alaw", "audio/x-alaw-basic", False),
}
_G711 = (_E.AUDIO_ENCODING_MULAW, _E.AUDIO_ENCODING_ALAW)


@pytest.fixture(scope="module")
def stack():
    with LocalStack(GOLDEN / "small_causal", startup_timeout_s=240, http_port=0) as s:
        yield s


@pytest.fixture(scope="module")
def stub(stack):
    with grpc.insecure_channel(stack.gateway_address) as channel:
        yield gateway_service_pb2_grpc.GatewayServiceStub(channel)


@pytest.fixture(scope="module")
def reported(stub):
    """The number of samples the gateway reports for the text at a rate (a unary
    PCM call's ``num_samples``; the audio is the same whatever the encoding)."""

    @cache
    def samples_at(rate: int) -> int:
        reply = stub.Synthesize(
            gw.SynthesizeRequest(text=TWO_SENTENCES, sample_rate_hz=rate),
            timeout=TIMEOUT_S,
        )
        assert reply.sample_rate_hz == rate
        return int(reply.num_samples)

    return samples_at


def _check(path: Path, encoding: int, rate: int, expected: int) -> None:
    """soundfile, ffmpeg and ffprobe each give ``expected`` samples (+ slack)."""
    data = path.read_bytes()
    got = {
        "soundfile": soundfile_samples(data, encoding, rate),
        "ffmpeg": ffmpeg_samples(path, encoding, rate),
        "ffprobe": ffprobe_samples(path, encoding, rate),
    }
    bad = {
        k: n for k, n in got.items() if not 0 <= n - expected <= slack(encoding, rate)
    }
    assert not bad, (
        f"{path.name}: expected {expected} samples at {rate} Hz "
        f"(+{slack(encoding, rate)} at most), readers gave {got}"
    )


def _speech(url: str, fmt: str) -> tuple[dict[str, str], bytes]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT_S)
    try:
        body = json.dumps({"input": TWO_SENTENCES, "response_format": fmt})
        conn.request("POST", "/v1/audio/speech", body=body,
                     headers={"Content-Type": "application/json"})  # fmt: skip
        reply = conn.getresponse()
        data = reply.read()
        assert reply.status == 200, data[:300]
        return {k.lower(): v for k, v in reply.getheaders()}, data
    finally:
        conn.close()


@pytest.mark.parametrize("encoding", list(HTTP), ids=[f for f, _, _ in HTTP.values()])
def test_every_path_decodes_to_the_reported_duration(
    stack, stub, reported, encoding: audio_pb2.AudioEncoding, tmp_path: Path
) -> None:
    """Unary gRPC, streaming gRPC and HTTP, each read by three readers."""
    rate_asked = 0  # the default: the voice's rate, 8 kHz for G.711
    # Unary gRPC: a complete file, with the length it reports.
    reply = stub.Synthesize(
        gw.SynthesizeRequest(text=TWO_SENTENCES, encoding=encoding), timeout=TIMEOUT_S
    )
    rate = reply.sample_rate_hz
    if encoding in _G711:
        assert rate == 8000
    assert reply.num_samples == reported(rate)
    assert abs(reply.duration_ms - reply.num_samples * 1000 / rate) <= 0.5
    unary = tmp_path / "unary.audio"
    unary.write_bytes(reply.audio)
    _check(unary, encoding, rate, int(reply.num_samples))

    # Streaming gRPC: the chunks as saved, the final header over their start.
    messages = list(stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=TWO_SENTENCES, encoding=encoding,
                                   sample_rate_hz=rate_asked),
        timeout=TIMEOUT_S,
    ))  # fmt: skip
    assert messages[0].header.sample_rate_hz == rate
    chunks = [m.chunk for m in messages[1:]]
    assert chunks[-1].last_in_stream
    assert [c.final_header for c in chunks[:-1]] == [b""] * (len(chunks) - 1)
    streamed = b"".join(c.audio for c in chunks)
    final_header = chunks[-1].final_header
    header_formats = (_E.AUDIO_ENCODING_WAV, _E.AUDIO_ENCODING_FLAC)
    assert bool(final_header) == (encoding in header_formats)
    sentences_ms = sum(c.sentence.duration_ms for c in chunks if c.last_in_sentence)
    expected = reported(rate)
    assert abs(sentences_ms - expected * 1000 / rate) <= len(reply.sentences)
    saved = tmp_path / "stream.audio"
    saved.write_bytes(final_header + streamed[len(final_header) :])
    _check(saved, encoding, rate, expected)
    if final_header:
        raw = tmp_path / "stream-no-final-header.audio"
        raw.write_bytes(streamed)
        assert ffmpeg_samples(raw, encoding, rate) == expected

    # HTTP: wav and flac whole with a Content-Length, the others streamed.
    fmt, content_type, whole = HTTP[encoding]
    headers, data = _speech(stack.http_url, fmt)
    assert headers["content-type"] == content_type
    if whole:
        assert int(headers["content-length"]) == len(data)
        assert "transfer-encoding" not in headers
    else:
        assert headers["transfer-encoding"] == "chunked"
    http_rate = int(headers["x-sample-rate"])
    if encoding in _G711:
        assert http_rate == 8000
    got = tmp_path / f"http.{fmt}"
    got.write_bytes(data)
    _check(got, encoding, http_rate, reported(http_rate))
