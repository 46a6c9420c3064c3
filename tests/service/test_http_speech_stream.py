"""The bridge's WebSocket (text in, audio out) in front of a gateway on fake stages."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import numpy as np
import pytest
import soundfile as sf
from aiohttp import web

from gateway.http.app import build_app
from gateway.http.config import HttpConfig
from tests.service.fake_stages import RATE, samples_for

PATH = "/v1/audio/speech/stream"
TIMEOUT_S = 10.0
PAUSE = RATE * 400 // 1000


@pytest.fixture
async def bridge(start_gateway: Callable[..., Awaitable[Any]]) -> AsyncIterator[str]:
    """The bridge's base URL, in front of a gateway on the fakes."""
    gateway = await start_gateway()
    runner = web.AppRunner(build_app(HttpConfig(gateway_addr=gateway.address)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
    """The next message: bytes for audio, the decoded JSON for text; None once
    the server closed."""
    message = await ws.receive(timeout=TIMEOUT_S)
    if message.type == aiohttp.WSMsgType.BINARY:
        return message.data
    if message.type == aiohttp.WSMsgType.TEXT:
        return message.json()
    return None


async def _until(ws: aiohttp.ClientWebSocketResponse, key: str) -> list[Any]:
    """Messages up to and including the first JSON one with ``key``."""
    out: list[Any] = []
    while True:
        message = await _receive(ws)
        assert message is not None, f"closed before {key!r}: {out[-1:]}"
        out.append(message)
        if isinstance(message, dict) and key in message:
            return out


async def test_audio_comes_while_the_text_is_still_being_written(bridge: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(bridge + PATH) as ws,
    ):
        await ws.send_json({"response_format": "wav", "voice": "zhiyan_emo"})
        await ws.send_json({"text": "你好世界。今"})
        first = await _until(ws, "sentence")  # before the end was sent
        header = first[0]["header"]
        assert (
            header["sample_rate_hz"] == RATE and header["content_type"] == "audio/wav"
        )
        assert header["voice"] == "zhiyan_emo" and header["request_id"]
        duration_ms = round(samples_for("你好世界") * 1000 / RATE)
        assert first[-1]["sentence"] == {
            "index": 0, "text": "你好世界", "duration_ms": duration_ms, "cached": False,
        }  # fmt: skip
        await ws.send_json({"text": "天很好。", "end": True})
        rest = await _until(ws, "done")
        assert await _receive(ws) is None and ws.close_code == 1000
    messages = first + rest
    done = messages[-1]
    audio = bytearray(b"".join(m for m in messages if isinstance(m, bytes)))
    assert done["done"] is True and done["sentences"] == 2
    assert (
        done["audio_bytes"] == len(audio) and done["request_id"] == header["request_id"]
    )
    final_header = base64.b64decode(done["final_header"])
    audio[: len(final_header)] = final_header
    pcm, rate = sf.read(io.BytesIO(bytes(audio)), dtype="int16")
    assert rate == RATE
    assert pcm.size == samples_for("你好世界。") + PAUSE + samples_for("今天很好。")
    assert np.abs(pcm).max() > 1000


async def test_input_in_the_config_is_the_first_piece(bridge: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(bridge + PATH) as ws,
    ):
        await ws.send_json({"response_format": "pcm", "input": "你好。"})
        await ws.send_json({"flush": True, "end": True})
        messages = await _until(ws, "done")
    assert messages[0]["header"]["sample_rate_hz"] == 24000  # OpenAI's pcm rate
    assert messages[-1]["sentences"] == 1
    assert any(isinstance(m, bytes) for m in messages)


async def test_sentence_messages_carry_timings_when_asked(bridge: str) -> None:
    """With ``timings`` in the config, each sentence message has its spans, in
    seconds from the start of the session's audio (pauses between runs included)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(bridge + PATH) as ws,
    ):
        await ws.send_json({"response_format": "pcm", "timings": True})
        await ws.send_json({"text": "你好世界。今"})  # the 今 closes the sentence
        messages = await _until(ws, "sentence")
        await ws.send_json({"text": "天很好。", "end": True})
        messages += await _until(ws, "done")
    spans = [
        m["sentence"]["timings"]["sentence"]
        for m in messages
        if isinstance(m, dict) and "sentence" in m
    ]
    first, second = samples_for("你好世界。") / RATE, samples_for("今天很好。") / RATE
    start = first + PAUSE / RATE
    assert [s["start_s"] for s in spans] == pytest.approx([0.0, start])
    assert [s["end_s"] for s in spans] == pytest.approx([first, start + second])


@pytest.mark.parametrize(
    ("messages", "close_code", "code", "says"),
    [
        ([{"text": "你好。"}], 4400, "missing_config", "must be the config"),
        (["not json"], 4400, "invalid_json", "not valid JSON"),
        ([{"voice": "nobody"}], 4404, None, "nobody"),
        ([{"speed": "fast"}], 4400, "invalid_speed", "speed must be a number"),
        ([{"stream_format": "sse"}], 4400, "unsupported_stream_format", "binary"),
        ([{}, {"words": "你好"}], 4400, "invalid_message", '"text", "flush" or "end"'),
        ([{}, {"flush": "yes"}], 4400, "invalid_message", "flush must be true"),
        ([{}, {"text": 5}], 4400, "invalid_text", "text must be a string"),
        ([{}, b"\x00\x01"], 4400, "invalid_message", "binary messages"),
        ([{}, {"text": "好" * 6000}], 4400, "invalid_argument", "has passed 4096"),
        ([{"input": "好" * 3000}, {"text": "好" * 1100}], 4400, "invalid_argument",
         "has passed 4096"),
        ([{}, {"text": "\ud800"}], 4400, "invalid_text", "lone surrogate"),
        ([{}, {"text": "。。", "end": True}], 4400, "invalid_argument",
         "no text to speak"),  # the gateway's own refusal, passed on
    ],
)  # fmt: skip
async def test_errors_are_one_json_message_then_a_close(
    bridge: str, messages: list[Any], close_code: int, code: str | None, says: str
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(bridge + PATH) as ws,
    ):
        for message in messages:
            if isinstance(message, bytes):
                await ws.send_bytes(message)
            elif isinstance(message, str):
                await ws.send_str(message)
            else:
                await ws.send_json(message)
        replies = []
        while (reply := await _receive(ws)) is not None:
            replies.append(reply)
        assert ws.close_code == close_code
    error = replies[-1]["error"]
    assert set(error) == {"message", "type", "code"}
    assert code is None or error["code"] == code
    assert says in error["message"]


async def test_a_plain_get_is_told_to_upgrade(bridge: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(bridge + PATH) as reply:
        assert reply.status == 400
        assert "error" in await reply.json()
