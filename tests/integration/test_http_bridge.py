"""The HTTP bridge in front of the real stack: real processes, sockets, Redis, voice."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import numpy as np
import pytest
import soundfile as sf

from tests.golden import GOLDEN
from tests.integration.test_stack import (
    LONG_SENTENCES,
    MANY_SENTENCES,
    TWO_SENTENCES,
    hang_up_mid_stream,
)
from tests.service.test_gateway_encoding import _flac_with_length
from tts_common.stack import LocalStack, free_port

pytestmark = pytest.mark.slow
VOICE = "testvoice_emo"
RATE = 16000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack():
    with LocalStack(GOLDEN / "small_causal", startup_timeout_s=240, http_port=0) as s:
        yield s


def _request(
    base: str,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP exchange; ``body`` is sent as JSON unless it is already bytes."""
    url = urlsplit(base)
    assert url.hostname is not None, base
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    data = (
        body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    )
    sent = {"Content-Type": "application/json", **(headers or {})}
    try:
        conn.request(method, path, body=data, headers=sent)
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def _speech(base: str, **body: object) -> tuple[int, dict[str, str], bytes]:
    return _request(base, "POST", "/v1/audio/speech", body)


def _error(data: bytes) -> dict[str, str]:
    error: dict[str, str] = json.loads(data)["error"]
    assert set(error) == {"message", "type", "code"} and error["message"]
    return error


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("wav", "audio/wav"),
        ("flac", "audio/flac"),
        ("opus", "audio/ogg; codecs=opus"),
        ("mp3", "audio/mpeg"),
    ],
)
def test_each_format_decodes_at_the_voice_rate(
    stack, fmt: str, content_type: str
) -> None:
    """Containers keep the 16 kHz voice rate (all four codecs take it) and decode."""
    status, headers, data = _speech(
        stack.http_url,
        input=TWO_SENTENCES,
        voice=VOICE,
        response_format=fmt,
        model="tts-1",
    )
    assert status == 200, data[:300]
    assert headers["content-type"] == content_type
    assert headers["transfer-encoding"] == "chunked"
    assert headers["x-sample-rate"] == str(RATE)
    _, _, wav = _speech(
        stack.http_url, input=TWO_SENTENCES, voice=VOICE, response_format="wav"
    )
    expected = (len(wav) - 44) // 2
    if fmt == "flac":  # streamed FLAC says "length unknown"; libsndfile needs it
        data = _flac_with_length(data, expected)
    audio, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == RATE
    if fmt == "mp3":
        # A streamed MP3 has no filled-in Xing frame (its frames are byte-identical
        # to the unary file's otherwise); libsndfile then estimates the length of
        # these 16 kHz MPEG-2 frames from the byte count and stops early (~70 %).
        assert len(audio) > expected // 3
    else:
        assert expected <= len(audio) <= expected + 4000


def test_pcm_is_24k_int16_resampled_from_the_voice(stack) -> None:
    """``pcm`` is headerless 24 kHz s16le whatever the voice's rate (OpenAI's)."""
    _, _, wav = _speech(stack.http_url, input=TWO_SENTENCES, response_format="wav")
    status, headers, pcm = _speech(
        stack.http_url, input=TWO_SENTENCES, response_format="pcm"
    )
    assert status == 200 and headers["content-type"] == "audio/pcm"
    assert headers["x-sample-rate"] == "24000"
    native, rate = sf.read(io.BytesIO(wav), dtype="int16")
    assert rate == RATE and len(pcm) % 2 == 0
    samples = np.frombuffer(pcm, "<i2")
    assert abs(samples.size - native.size * 1.5) <= 2
    assert np.abs(samples).max() > 0


async def test_multi_sentence_speech_streams_in_several_chunks(stack) -> None:
    """Audio is written as the gateway makes it: several HTTP chunks, in order."""
    chunks, total = 0, b""
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{stack.http_url}/v1/audio/speech",
            json={
                "input": MANY_SENTENCES,
                "voice": VOICE,
                "response_format": "pcm",
                "no_cache": True,
            },
        ) as reply:
            assert reply.status == 200
            async for data, end_of_chunk in reply.content.iter_chunks():
                total += data
                chunks += end_of_chunk
    assert chunks > 1
    assert len(total) > 24000 * 2 * 2  # several seconds of 24 kHz audio


def test_client_hanging_up_stops_the_stages(stack) -> None:
    """A caller that leaves mid-stream cancels the gateway call, and the stages stop
    (their calls in flight end CANCELLED, none stays in flight, and the rest of the
    text is never synthesized)."""
    url = urlsplit(stack.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)

    def start() -> tuple[Iterator[bool], Callable[[], None]]:
        conn.request(
            "POST",
            "/v1/audio/speech",
            body=json.dumps(
                {
                    "input": LONG_SENTENCES * 6,
                    "response_format": "pcm",
                    "no_cache": True,
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        reply = conn.getresponse()
        assert reply.status == 200
        sock = conn.sock
        # Closing then sends a reset, as a client does that leaves with audio unread.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        def audio() -> Iterator[bool]:
            try:
                while reply.read1(4096):
                    yield True
            finally:  # in the reading thread only: http.client is not thread-safe
                reply.close()
                conn.close()

        def hang_up() -> None:
            sock.shutdown(socket.SHUT_RD)  # the reader's recv returns; it then closes

        return audio(), hang_up

    hang_up_mid_stream(stack, 12, start)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"input": "你好", "voice": "nobody"}, 404, "not_found"),
        ({"input": ""}, 400, "missing_input"),
        ({"input": "   "}, 400, "missing_input"),
        ({"voice": VOICE}, 400, "missing_input"),
        ({"input": "你好", "speed": 3.0}, 400, "invalid_speed"),
        ({"input": "你好", "speed": 0.25}, 400, "invalid_speed"),
        ({"input": "你好", "speed": "fast"}, 400, "invalid_speed"),
        (
            {"input": "你好", "response_format": "aac"},
            400,
            "unsupported_response_format",
        ),
        ({"input": "你好", "emotion": "furious"}, 400, "invalid_argument"),
        ({"input": "你好" * 3000}, 400, "invalid_argument"),
        ([1, 2], 400, "invalid_body"),
    ],
    ids=[
        "bad-voice",
        "empty",
        "blank",
        "missing",
        "fast",
        "slow",
        "speed-text",
        "aac",
        "bad-emotion",
        "too-long",
        "not-object",
    ],
)
def test_errors_map_to_http_statuses(stack, body, status: int, code: str) -> None:
    """Bridge checks and gateway statuses come back as OpenAI-style JSON errors."""
    got, headers, data = _request(stack.http_url, "POST", "/v1/audio/speech", body)
    assert got == status, data
    assert headers["content-type"].startswith("application/json")
    error = _error(data)
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"


def test_malformed_json_is_400(stack) -> None:
    status, _, data = _request(
        stack.http_url, "POST", "/v1/audio/speech", b'{"input": "\xe4\xbd\xa0",'
    )
    assert status == 400 and _error(data)["code"] == "invalid_json"


def test_speed_message_names_the_range(stack) -> None:
    _, _, data = _speech(stack.http_url, input="你好", speed=4.0)
    assert "0.5 to 2.0" in _error(data)["message"]


def test_voices_lists_names_emotions_and_rate(stack) -> None:
    status, _, data = _request(stack.http_url, "GET", "/v1/voices")
    assert status == 200
    body = json.loads(data)
    assert body["default_voice"] == VOICE
    (voice,) = body["voices"]
    assert voice["name"] == VOICE and voice["sample_rate_hz"] == RATE
    assert voice["emotions"] and isinstance(voice["speakers"], list)
    assert set(body["response_formats"]) == {"mp3", "opus", "flac", "wav", "pcm"}


def test_health_ready_and_page(stack) -> None:
    assert _request(stack.http_url, "GET", "/healthz")[0] == 200
    status, _, data = _request(stack.http_url, "GET", "/readyz")
    assert status == 200 and json.loads(data)["status"] == "SERVING"
    status, headers, page = _request(stack.http_url, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"/static/app.js" in page
    for asset in ("/static/app.js", "/static/style.css"):
        assert _request(stack.http_url, "GET", asset)[0] == 200
    status, _, data = _request(stack.http_url, "GET", "/v1/nothing-here")
    assert status == 404 and _error(data)["code"] == "not_found"


def test_repeat_is_a_cache_hit_in_the_report(stack) -> None:
    """The bridge uses the gateway's cache: a repeat shows as hits in the report."""
    text = "这儿的风景真美啊。"
    before = json.loads(_request(stack.http_url, "GET", "/v1/cache/report")[2])
    first = _speech(stack.http_url, input=text, response_format="wav")[2]
    second = _speech(stack.http_url, input=text, response_format="wav")[2]
    assert first == second
    status, _, data = _request(stack.http_url, "GET", "/v1/cache/report?top=5")
    after = json.loads(data)
    assert status == 200
    assert after["overall"]["hits"] - before["overall"]["hits"] == 1
    assert after["overall"]["misses"] - before["overall"]["misses"] == 1
    assert after["top_sentences"]
    status, _, data = _request(stack.http_url, "GET", "/v1/cache/report?top=x")
    assert status == 400 and _error(data)["code"] == "invalid_query"


def test_request_id_is_echoed_and_text_never_logged(stack) -> None:
    secret = "我的密码是芝麻开门。"
    status, headers, _ = _speech(stack.http_url, input=secret, response_format="pcm")
    assert status == 200
    status, headers, _ = _request(
        stack.http_url,
        "POST",
        "/v1/audio/speech",
        {"input": "你好。"},
        {"X-Request-Id": "bridge-test-1"},
    )
    assert status == 200 and headers["x-request-id"] == "bridge-test-1"
    time.sleep(0.5)
    log = stack.processes["http"].log_path.read_text(encoding="utf-8")
    assert "speech voice=" in log and "text_sha256=" in log
    assert secret not in log and "芝麻" not in log


@contextlib.contextmanager
def _bridge(
    tmp_path: Path, **env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m gateway.http`` whose gateway is not there; yields its URL."""
    port = free_port()
    full = {
        **os.environ,
        "GATEWAY_ADDR": f"127.0.0.1:{free_port()}",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "protos" / "gen")]),
        **env,
    }
    log_path = tmp_path / "http.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.http"],
            env=full,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _request(base, "GET", "/healthz")
                break
            except OSError:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "bridge did not start"
                time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_gateway_down_means_not_ready_and_503(tmp_path) -> None:
    with _bridge(tmp_path) as (base, _):
        assert _request(base, "GET", "/healthz")[0] == 200
        status, _, data = _request(base, "GET", "/readyz")
        assert status == 503 and json.loads(data)["status"] == "UNREACHABLE"
        for method, path, body in (
            ("POST", "/v1/audio/speech", {"input": "你好"}),
            ("GET", "/v1/voices", None),
            ("GET", "/v1/cache/report", None),
        ):
            status, _, data = _request(base, method, path, body)
            assert status == 503, (path, data)
            assert _error(data)["code"] == "unavailable"


def test_sigterm_drains_then_exits(tmp_path) -> None:
    """After SIGTERM: /readyz 503 DRAINING while the listener stays up, then exit 0."""
    with _bridge(tmp_path, HTTP_DRAIN_DELAY_S="3") as (base, proc):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        status, _, data = _request(base, "GET", "/readyz")
        assert status == 503 and json.loads(data)["status"] == "DRAINING"
        assert _request(base, "GET", "/healthz")[0] == 200
        assert proc.wait(timeout=20) == 0
