"""The HTTP bridge in front of the real stack: real processes, sockets, Redis, voice."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import itertools
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
from typing import Any
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
    """Containers keep the 16 kHz voice rate (all four codecs take it) and decode;
    WAV and FLAC come whole, with their length, the others stream."""
    status, headers, data = _speech(
        stack.http_url,
        input=TWO_SENTENCES,
        voice=VOICE,
        response_format=fmt,
        model="tts-1",
    )
    assert status == 200, data[:300]
    assert headers["content-type"] == content_type
    if fmt in ("wav", "flac"):
        assert int(headers["content-length"]) == len(data)
        assert "transfer-encoding" not in headers
    else:
        assert headers["transfer-encoding"] == "chunked"
    assert headers["x-sample-rate"] == str(RATE)
    _, _, wav = _speech(
        stack.http_url, input=TWO_SENTENCES, voice=VOICE, response_format="wav"
    )
    expected = (len(wav) - 44) // 2
    audio, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == RATE
    if fmt == "mp3":
        # Constant bitrate, no length frame: readers see LAME's 1,105-sample delay
        # and the last frame's padding (576 samples at 16 kHz) too.
        assert expected <= len(audio) <= expected + 1105 + 576
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
        ({"input": "你好", "speed": 4.5}, 400, "invalid_speed"),
        ({"input": "你好", "speed": 0.2}, 400, "invalid_speed"),
        ({"input": "你好", "speed": "fast"}, 400, "invalid_speed"),
        (
            {"input": "你好", "response_format": "aac"},
            400,
            "unsupported_response_format",
        ),
        ({"input": "你好", "emotion": "furious"}, 400, "invalid_argument"),
        ({"input": "你好", "pitch_semitones": 12.5}, 400, "invalid_pitch_semitones"),
        ({"input": "你好", "lexicon": {"你好": "ni9"}}, 400, "invalid_argument"),
        ({"input": "你好", "lexicon": ["ni3"]}, 400, "invalid_lexicon"),
        ({"input": "你好", "timings": True}, 400, "timings_need_sse"),
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
        "high-pitch",
        "bad-reading",
        "bad-lexicon",
        "timings-no-sse",
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
    """OpenAI's range is taken, and the voices' own (where it is clamped) said."""
    _, _, data = _speech(stack.http_url, input="你好", speed=5.0)
    message = _error(data)["message"]
    assert "use 0.25 to 4.0" in message and "0.5 to 2.0" in message


def test_voices_lists_names_emotions_and_rate(stack) -> None:
    status, _, data = _request(stack.http_url, "GET", "/v1/voices")
    assert status == 200
    body = json.loads(data)
    assert body["default_voice"] == VOICE
    (voice,) = body["voices"]
    assert voice["name"] == VOICE and voice["sample_rate_hz"] == RATE
    assert voice["emotions"] and isinstance(voice["speakers"], list)
    assert set(body["response_formats"]) == {
        "mp3",
        "opus",
        "flac",
        "wav",
        "pcm",
        "mulaw",
        "alaw",
    }


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


def _sse(base: str, **body: object) -> tuple[bytes, list[dict[str, Any]]]:
    """The audio and the ``speech.timings`` events of an SSE speech request."""
    status, headers, data = _speech(base, stream_format="sse", **body)
    assert status == 200, data[:300]
    assert headers["content-type"] == "text/event-stream"
    events = [json.loads(b[len("data: ") :]) for b in data.decode().split("\n\n") if b]
    assert events[-1]["type"] == "speech.audio.done"
    audio = b"".join(
        base64.b64decode(e["audio"])
        for e in events
        if e["type"] == "speech.audio.delta"
    )
    return audio, [e for e in events if e["type"] == "speech.timings"]


def _check_timings(timings: list[dict[str, Any]], audio_s: float) -> None:
    """Sentence spans tile the audio (with their breaks); words and phones lie in
    their sentence, in order, the phones one after another."""
    ends = 0.0
    for i, t in enumerate(timings):
        assert t["index"] == i
        sentence = t["sentence"]
        slack = 0.0005 * (i + 1) + 1e-6  # duration_ms is rounded to whole ms
        assert sentence["start_s"] == pytest.approx(ends, abs=slack)
        ends += t["duration_ms"] / 1000
        assert sentence["start_s"] < sentence["end_s"] <= ends + slack
        phones, words = t["phones"], t["words"]
        assert phones and words, t
        assert sentence["start_s"] - 1e-6 <= phones[0]["start_s"]
        assert phones[-1]["end_s"] <= sentence["end_s"] + 1e-6  # breaks not phones
        for a, b in itertools.pairwise(phones):
            assert a["start_s"] < a["end_s"] <= b["start_s"] + 1e-6
        for w in words:
            assert sentence["start_s"] - 1e-6 <= w["start_s"] < w["end_s"]
            assert w["end_s"] <= sentence["end_s"] + 1e-6
            assert w["text"] in sentence["text"]
        assert [w["start_s"] for w in words] == sorted(w["start_s"] for w in words)
    assert audio_s == pytest.approx(ends, abs=0.005)


def test_sse_timings_add_up_to_the_audio_at_any_rate_and_from_the_cache(
    stack,
) -> None:
    """Timings of the real model: one event per sentence whose spans add up to the
    audio's length; the same in seconds at 24 kHz (pcm) and the voice's 16 kHz
    (wav, whole), freshly made and from the cache."""
    text = "今天天气很好。我们一起去公园散步吧！银行的行长来了。"
    pcm, fresh = _sse(stack.http_url, input=text, voice=VOICE, response_format="pcm",
                      timings=True, no_cache=True)  # fmt: skip
    assert len(fresh) == 3
    for t, sentence in zip(
        fresh, ("今天天气很好", "我们一起去公园散步吧", "银行的行长来了"), strict=True
    ):
        assert "".join(w["text"] for w in t["words"]) == sentence  # every word
    _check_timings(fresh, len(pcm) / 2 / 24000)
    for _ in range(2):  # made (and cached), then from the cache
        wav, again = _sse(stack.http_url, input=text, voice=VOICE,
                          response_format="wav", timings=True)  # fmt: skip
        audio, rate = sf.read(io.BytesIO(wav), dtype="int16")
        assert rate == RATE
        _check_timings(again, audio.size / RATE)
        assert again == fresh


def test_pitch_and_lexicon_change_the_audio(stack) -> None:
    """``pitch_semitones`` and ``lexicon`` reach the model: other audio, and the
    lexicon's reading is what is spoken (its phones)."""
    body = {"input": "我们好。", "voice": VOICE, "response_format": "pcm"}
    plain, (timings,) = _sse(stack.http_url, **body, timings=True)
    higher, _ = _sse(stack.http_url, **body, pitch_semitones=4)
    assert len(higher) == len(plain) and higher != plain  # same durations
    read, (lexicon_timings,) = _sse(
        stack.http_url, **body, timings=True, lexicon={"我们": "ta1 men5"}
    )
    assert read != plain
    assert [p["text"] for p in timings["phones"]][:2] == ["w_c", "o_c"]
    assert [p["text"] for p in lexicon_timings["phones"]][:2] == ["t_c", "a_c"]


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
