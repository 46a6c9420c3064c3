"""``GET /v1/audio/speech/stream``: text in over a WebSocket as it is written, audio
out as each sentence completes (the gateway's ``StreamingSynthesize``).

The client's messages are JSON text messages:

1. First, the config: the fields of ``POST /v1/audio/speech`` (``voice``,
   ``response_format``, ``speed``, ``emotion``, ``speaker``, ``no_cache``,
   ``instructions``, ``model``); ``input``, if given, is the first piece of text.
2. Then ``{"text": "..."}`` pieces, split anywhere; ``{"flush": true}`` to speak
   what came so far now; ``{"end": true}`` when the text is complete. ``text`` may
   come with ``flush`` or ``end`` in one message.

The bridge answers with JSON text messages and binary audio messages:
``{"header": {...}}`` (request id, format, content type, rate) before the first
audio; binary messages with the audio, in order, which together are one stream in
``response_format``; ``{"sentence": {...}}`` after each sentence's audio (with
``timings`` when the config asked for them); and, after
the end, ``{"done": true, ...}``, then a normal close (1000). An error is one
``{"error": {"message", "type", "code"}}`` message (OpenAI's shape, as the POST
endpoint answers) and a close with code 4000 + the HTTP status it would have had
(4400, 4404, 4429, 4503, 4504, ...). The whole session, waiting for text included,
is bounded by the bridge's request timeout (``HTTP_REQUEST_TIMEOUT_S``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from typing import Any

import grpc
from aiohttp import WSMsgType, web

from gateway.http.auth import caller_key
from gateway.http.errors import ApiError, from_rpc_error
from gateway.http.handlers import Handlers
from gateway.http.openai_compat import resolve_speech
from gateway.http.speech import SpeechParams, parse_speech
from gateway.http.sse import timings_json
from gateway.http.voice_aliases import VoiceAliases
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.interceptors import is_request_id

__all__ = ["PATH", "SpeechStreams"]

_LOGGER = logging.getLogger(__name__)
PATH = "/v1/audio/speech/stream"
_CONFIG_TIMEOUT_S = 30.0
"""How long the bridge waits for the config after the WebSocket opens."""
_MAX_MESSAGE_BYTES = 1 << 20
_PROBE_INPUT = "。"
"""Stands in for ``input`` while the config is checked as a speech body."""
_MESSAGE_KEYS = frozenset({"text", "flush", "end"})
_Req = gw.StreamingSynthesizeRequest


class _Left(Exception):
    """The client closed the WebSocket before the end."""


class SpeechStreams:
    """The WebSocket endpoint; one object serves every connection."""

    def __init__(self, handlers: Handlers, aliases: VoiceAliases) -> None:
        """Use the bridge's gateway client (``handlers.client``) and aliases."""
        self._handlers, self._aliases = handlers, aliases

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One session: config, text in, audio out (see the module docstring)."""
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=_MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        call = None
        tasks: list[asyncio.Task[Any]] = []
        try:
            key = caller_key(request)
            params, rate, first_text = await self._config(ws, key)
            config = params.to_request(rate)
            config.ClearField("text")
            request_id = request.headers.get("X-Request-Id", "")
            call = self._client.streaming(
                request_id if is_request_id(request_id) else "", key
            )
            limit = (await self._client.voices(api_key=key)).max_text_chars
            _check_text(first_text, len(first_text), limit)
            sending = await _send(call, _Req(config=config))
            if first_text and sending:
                await _send(call, _Req(text=first_text))
            forward = asyncio.create_task(_forward(ws, call, limit, len(first_text)))
            relay = asyncio.create_task(_relay(ws, call, params))
            tasks = [forward, relay]
            done = await _until_relayed(forward, relay)
            await ws.send_json(done)
            await ws.close()
        except (_Left, ConnectionResetError):
            _LOGGER.info("speech stream: the client left before the end")
        except ApiError as err:
            await _fail(ws, err)
        except grpc.RpcError as err:
            await _fail(ws, from_rpc_error(err))
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            if call is not None:
                call.cancel()  # a no-op once finished
        return ws

    @property
    def _client(self) -> Any:
        assert self._handlers.client is not None, "the app has not started"
        return self._handlers.client

    async def _config(
        self, ws: web.WebSocketResponse, key: str | None
    ) -> tuple[SpeechParams, int, str]:
        """The first message, checked as a speech body: the params, the voice's
        rate and the first text piece (``input``, possibly empty).

        Raises:
            ApiError: 400 for a bad config (or none in time), 404 for a voice.
            _Left: The client closed first.
        """
        try:
            message = await ws.receive(timeout=_CONFIG_TIMEOUT_S)
        except TimeoutError:
            raise _bad(f"no config within {_CONFIG_TIMEOUT_S:g} s of opening the "
                       "stream; send it first", "missing_config") from None  # fmt: skip
        body = _json(message)
        if not isinstance(body, dict):
            raise _bad("the first message must be a JSON object with the config "
                       "(the fields of POST /v1/audio/speech)", "invalid_config")  # fmt: skip
        if _MESSAGE_KEYS & set(body):
            raise _bad("the first message must be the config; send text, flush "
                       "and end after it", "missing_config")  # fmt: skip
        first_text = body.get("input") or ""
        if not isinstance(first_text, str):
            raise _bad("input must be a string", "invalid_input")
        params = parse_speech({**body, "input": _PROBE_INPUT})
        if params.stream_format != "audio":
            raise _bad("stream_format does not apply here: the audio comes as "
                       "binary messages", "unsupported_stream_format")  # fmt: skip
        resolved = await resolve_speech(params, self._client, key, self._aliases)
        return resolved.params, resolved.sample_rate_hz, first_text


async def _until_relayed(
    forward: asyncio.Task[None], relay: asyncio.Task[dict[str, Any]]
) -> dict[str, Any]:
    """Wait for the relay to finish, stopping at once if the client's side fails
    or leaves; the ``done`` message.

    Raises:
        ApiError, grpc.RpcError, _Left: As the tasks raise them.
    """
    pending: set[asyncio.Task[Any]] = {forward, relay}
    while relay in pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if forward in done and forward.exception() is not None:
            raise forward.exception()  # type: ignore[misc]  # checked just above
    return relay.result()


async def _forward(
    ws: web.WebSocketResponse, call: Any, limit: int, chars: int
) -> None:
    """The client's messages to the gateway, until ``end`` (or until the gateway
    ended the call: the relay then reports its status). ``chars``: text sent so far.

    Raises:
        ApiError: 400 for a message that is not one of those allowed, or text past
            the limit of a whole stream.
        _Left: The WebSocket closed before ``end``.
    """
    async for message in ws:
        body = _json(message)
        if not isinstance(body, dict) or not body or set(body) - _MESSAGE_KEYS:
            raise _bad('each message after the config must be a JSON object with '
                       '"text", "flush" or "end"', "invalid_message")  # fmt: skip
        text = body.get("text", "")
        for flag in ("flush", "end"):
            if body.get(flag, False) is not True and flag in body:
                raise _bad(f"{flag} must be true when present", "invalid_message")
        chars += len(text) if isinstance(text, str) else 0
        _check_text(text, chars, limit)
        sending = True
        if text:
            sending = await _send(call, _Req(text=text))
        if body.get("flush") and sending:
            sending = await _send(call, _Req(flush=True))
        if body.get("end") and sending:
            await _send(call, None)
            return
        if not sending:
            return
    raise _Left


async def _send(call: Any, request: _Req | None) -> bool:
    """Write ``request`` to the gateway (None: the end of the text); False when
    the gateway has already ended the call, whose status ``read()`` then gives.
    grpc.aio may put its own INTERNAL in place of that status when a write races
    it (grpc/grpc#36066): checking ``done()`` first narrows that window."""
    if call.done():
        return False
    try:
        if request is None:
            await call.done_writing()
        else:
            await call.write(request)
    except (grpc.RpcError, asyncio.InvalidStateError):
        return False
    return True


async def _relay(
    ws: web.WebSocketResponse, call: Any, params: SpeechParams
) -> dict[str, Any]:
    """The gateway's replies to the client; the ``done`` message at the end.

    Raises:
        grpc.RpcError: The call failed.
        _Left: The WebSocket closed under us.
    """
    sentences = audio_bytes = 0
    request_id, final_header = "", b""
    while (message := await call.read()) is not grpc.aio.EOF:
        if ws.closed:
            raise _Left
        if message.HasField("header"):
            header = message.header
            request_id = header.request_id
            await ws.send_json({"header": {
                "request_id": header.request_id, "voice": header.voice,
                "response_format": params.response_format,
                "content_type": params.format.content_type,
                "sample_rate_hz": header.sample_rate_hz, "speed": params.speed,
                "emotion": params.emotion,
            }})  # fmt: skip
            continue
        chunk = message.chunk
        if chunk.audio:
            audio_bytes += len(chunk.audio)
            await ws.send_bytes(chunk.audio)
        if chunk.last_in_sentence:
            sentences += 1
            info = chunk.sentence
            sentence: dict[str, Any] = {
                "index": chunk.sentence_index, "text": info.normalized_text,
                "duration_ms": info.duration_ms, "cached": info.cached,
            }  # fmt: skip
            if info.HasField("timings"):  # the request asked for them
                sentence["timings"] = timings_json(chunk.sentence_index, info)
            await ws.send_json({"sentence": sentence})
        final_header = chunk.final_header or final_header
    done: dict[str, Any] = {"done": True, "request_id": request_id,
                            "sentences": sentences, "audio_bytes": audio_bytes}  # fmt: skip
    if final_header:  # WAV, FLAC: written over the start, the sizes are true
        done["final_header"] = base64.b64encode(final_header).decode()
    return done


def _json(message: Any) -> Any:
    """A text message's JSON.

    Raises:
        ApiError: 400: a binary message, or not JSON.
        _Left: The WebSocket is closing.
    """
    if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                        WSMsgType.ERROR):  # fmt: skip
        raise _Left
    if message.type != WSMsgType.TEXT:
        raise _bad("send JSON text messages; binary messages are not taken",
                   "invalid_message")  # fmt: skip
    try:
        return json.loads(message.data)
    except (ValueError, RecursionError):
        raise _bad("a message is not valid JSON", "invalid_json") from None


def _check_text(text: object, chars: int, limit: int) -> None:
    """Refuse a text piece that is not a string or not Unicode, or that takes the
    stream's text (``chars`` with it) past ``limit``: refused here, the gateway
    would refuse it too, or, for one big message, for its size.

    Raises:
        ApiError: 400.
    """
    if not isinstance(text, str):
        raise _bad("text must be a string", "invalid_text")
    if limit and chars > limit:
        raise _bad(f"the stream's text has passed {limit} characters, the limit of "
                   "one request; end this stream and continue in a new one",
                   "invalid_argument")  # fmt: skip
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # JSON's "\ud800" escapes decode to lone surrogates
        raise _bad("text is not valid Unicode (it has a lone surrogate escape)",
                   "invalid_text") from None  # fmt: skip


def _bad(message: str, code: str) -> ApiError:
    return ApiError(400, message, code)


async def _fail(ws: web.WebSocketResponse, err: ApiError) -> None:
    """Send the error and close with 4000 + its HTTP status."""
    if ws.closed:
        return
    body = json.loads(err.response().text or "{}")
    with contextlib.suppress(ConnectionError):
        await ws.send_json(body)
        await ws.close(code=4000 + err.status, message=err.code.encode()[:120])
