"""``stream_format="sse"``: the gateway's audio stream as OpenAI's speech events
(``speech.audio.delta`` / ``speech.audio.done``), plus our ``speech.timings``."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import grpc
from aiohttp import web

from gateway.http.errors import from_rpc_error, read_stream_header
from gateway.http.speech import SpeechParams
from sambert_tts_protos.v1 import gateway_service_pb2 as gw

__all__ = ["relay_sse", "sse_event", "timings_json"]

_LOGGER = logging.getLogger(__name__)

_DELTA_BYTES = 48 << 10
"""Most audio bytes in one delta event (64 KiB as base64)."""


def sse_event(data: dict[str, Any]) -> bytes:
    """One server-sent event: a ``data:`` line of JSON and a blank line."""
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _deltas(audio: bytes | bytearray) -> Iterator[bytes]:
    for start in range(0, len(audio), _DELTA_BYTES):
        piece = base64.b64encode(audio[start : start + _DELTA_BYTES]).decode()
        yield sse_event({"type": "speech.audio.delta", "audio": piece})


def _span(timing: gw.Timing) -> dict[str, Any]:
    # Microseconds are finer than any sample rate here; more digits are noise.
    return {"text": timing.text, "start_s": round(timing.start_s, 6),
            "end_s": round(timing.end_s, 6)}  # fmt: skip


def timings_json(index: int, info: gw.SentenceInfo) -> dict[str, Any]:
    """A sentence's timings as JSON: ``index``, ``duration_ms`` (its audio, its
    trailing break included), and ``sentence``, ``words``, ``phones``, ``marks``,
    each span ``{"text", "start_s", "end_s"}`` in seconds from the start of the
    whole output audio."""
    t = info.timings
    return {"index": index, "duration_ms": info.duration_ms,
            "sentence": _span(t.sentence), "words": [_span(w) for w in t.words],
            "phones": [_span(p) for p in t.phones],
            "marks": [_span(m) for m in t.marks]}  # fmt: skip


def _timings_event(chunk: gw.SynthesisChunk) -> bytes | None:
    """The ``speech.timings`` event of a sentence's last chunk, if it has timings."""
    if not (chunk.last_in_sentence and chunk.sentence.HasField("timings")):
        return None
    body = timings_json(chunk.sentence_index, chunk.sentence)
    return sse_event({"type": "speech.timings", **body})


async def relay_sse(
    request: web.Request, call: grpc.aio.UnaryStreamCall, params: SpeechParams
) -> web.StreamResponse:
    """Relay the gateway's stream as OpenAI's events: ``speech.audio.delta`` with
    base64 ``audio`` as it is made, then ``speech.audio.done`` with ``usage``
    (input characters and milliseconds of audio). A failure before the first audio
    is an ordinary HTTP error; after it, an ``error`` event ends the stream.

    With ``params.timings``, our ``speech.timings`` event (:func:`timings_json`)
    follows each sentence's last audio delta; OpenAI clients skip event types they
    do not know."""
    header = await read_stream_header(call)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-store",
        "X-Sample-Rate": str(header.sample_rate_hz),
        "X-Request-Id": header.request_id,
        "X-Audio-Content-Type": params.format.content_type,
    })  # fmt: skip
    response.enable_chunked_encoding()
    await response.prepare(request)
    # WAV and FLAC go out as one complete file (their header holds the length,
    # known at the end, as without SSE); the other formats as they are made.
    whole = bytearray() if params.format.buffered else None
    held: list[bytes] = []  # timings of a whole file: sent after its audio
    duration_ms = 0
    try:
        while (message := await call.read()) is not grpc.aio.EOF:
            if not message.HasField("chunk"):
                continue
            chunk = message.chunk
            if chunk.HasField("sentence"):
                duration_ms += chunk.sentence.duration_ms
            timings = _timings_event(chunk) if params.timings else None
            if whole is None:
                for event in _deltas(chunk.audio):
                    await response.write(event)
                if timings is not None:
                    await response.write(timings)
                continue
            if timings is not None:
                held.append(timings)
            whole += chunk.audio
            if chunk.final_header:  # the file's opening bytes, true length filled in
                whole[: len(chunk.final_header)] = chunk.final_header
    except grpc.RpcError as err:
        _LOGGER.warning("sse stream failed after headers: %s", err.code().name)
        # OpenAI's error object, as an HTTP error would carry it.
        body = json.loads(from_rpc_error(err).response().text or "{}")
        await response.write(sse_event({"type": "error", **body}))
        await response.write_eof()
        return response
    for event in (*_deltas(whole or b""), *held):
        await response.write(event)
    chars = len(params.text)
    usage = {"input_tokens": chars, "output_tokens": duration_ms,
             "total_tokens": chars + duration_ms}  # fmt: skip
    await response.write(sse_event({"type": "speech.audio.done", "usage": usage}))
    await response.write_eof()
    return response


# --- /v1/models --------------------------------------------------------------------
