"""Route handlers: speech (streamed), voices, cache report, health, the page."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import grpc
from aiohttp import web

from gateway.cache import check_report_args, report_to_dict
from gateway.http.auth import caller_key
from gateway.http.client import GatewayClient
from gateway.http.errors import ApiError, from_rpc_error, read_stream_header
from gateway.http.openai_compat import SPEECH_HEADERS, resolve_speech
from gateway.http.speech import FORMATS, SpeechParams, parse_speech
from gateway.http.sse import relay_sse
from gateway.http.voice_aliases import VoiceAliases
from gateway.options import MAX_LEXICON_ENTRIES, PITCH_RANGE_SEMITONES
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.errors import InvalidInput
from tts_common.interceptors import is_request_id
from tts_common.speed import SPEED_RANGE

__all__ = ["STATIC_DIR", "Handlers"]

_LOGGER = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).with_name("static")
_REQUEST_ID = "X-Request-Id"


async def _whole_file(call: grpc.aio.UnaryStreamCall) -> bytes:
    """The rest of a WAV or FLAC stream as one complete file: the chunks joined,
    with the last chunk's ``final_header`` (the true sizes) over their start.

    Raises:
        ApiError: The call failed (nothing is sent yet, so its own status), or it
            ended without a final header.
    """
    body, final_header = bytearray(), b""
    try:
        while (message := await call.read()) is not grpc.aio.EOF:
            if message.HasField("chunk"):
                body += message.chunk.audio
                final_header = message.chunk.final_header or final_header
    except grpc.RpcError as err:
        raise from_rpc_error(err) from None
    if not final_header or len(final_header) > len(body):
        raise ApiError(500, "the speech service sent no final header", "internal")
    body[: len(final_header)] = final_header
    return bytes(body)


class Handlers:
    """The bridge's endpoints, all backed by one :class:`GatewayClient`."""

    def __init__(
        self, gateway_addr: str, voice_aliases: VoiceAliases | None = None
    ) -> None:
        self.client: GatewayClient | None = None
        """Set when the app starts (the channel needs the running loop)."""
        self._gateway_addr = gateway_addr
        self._aliases = voice_aliases or VoiceAliases()
        self.draining = False
        """Set on SIGTERM: ``/readyz`` then answers 503 while running work ends."""

    @property
    def _client(self) -> GatewayClient:
        assert self.client is not None, "the app has not started"
        return self.client

    async def speech(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/audio/speech``: audio streamed as the gateway makes it."""
        try:
            body = await request.json()
        except (ValueError, RecursionError):  # also bad UTF-8, 5,000-digit numbers
            raise ApiError(400, "the body is not valid JSON", "invalid_json") from None
        key = caller_key(request)  # passed on: the gateway checks it too
        parsed = parse_speech(body)
        if parsed.timings and parsed.stream_format != "sse":
            raise ApiError(400, "timings come as server-sent events beside the audio: "
                           'send stream_format "sse" with timings true (a plain audio '
                           "response has no room for them)", "timings_need_sse")  # fmt: skip
        # Aliases (alloy ...) and instructions settled against the gateway's voices.
        resolved = await resolve_speech(parsed, self._client, key, self._aliases)
        params, rate = resolved.params, resolved.sample_rate_hz
        request[SPEECH_HEADERS] = resolved.headers  # X-Speed-Applied, ...
        await self._check_length(params.text, key)
        # Never the text itself at INFO: its length and a short hash identify it.
        digest = hashlib.sha256(params.text.encode()).hexdigest()[:12]
        _LOGGER.info("speech voice=%s format=%s chars=%d text_sha256=%s",
                     params.voice or "-", params.response_format, len(params.text),
                     digest)  # fmt: skip
        request_id = request.headers.get(_REQUEST_ID, "")
        call = self._client.stream(
            # An id gRPC metadata cannot carry is dropped: the gateway makes one.
            params.to_request(rate), request_id if is_request_id(request_id) else "",
            key,
        )  # fmt: skip
        try:
            if params.stream_format == "sse":
                return await relay_sse(request, call, params)
            return await self._relay(request, call, params)
        finally:
            call.cancel()  # a no-op once finished; stops the gateway if we left early

    async def _check_length(self, text: str, key: str | None) -> None:
        """Refuse text over the gateway's limit here: the gateway only takes
        messages a few times that size, and would refuse a larger one for its size
        (RESOURCE_EXHAUSTED), not for its length."""
        limit = (await self._client.voices(api_key=key)).max_text_chars
        if limit and len(text) > limit:
            # The code the gateway's own refusal (INVALID_ARGUMENT) would carry.
            raise ApiError(400, f"input has {len(text)} characters, over the limit "
                           f"of {limit}; split it into several requests",
                           "invalid_argument")  # fmt: skip

    async def _relay(
        self, request: web.Request, call: grpc.aio.UnaryStreamCall, params: SpeechParams
    ) -> web.StreamResponse:
        header = await read_stream_header(call)
        headers = {
            "Content-Type": params.format.content_type,
            "X-Sample-Rate": str(header.sample_rate_hz),
            _REQUEST_ID: header.request_id,
            "Cache-Control": "no-store",
        }
        if params.format.buffered:
            return web.Response(body=await _whole_file(call), headers=headers)
        response = web.StreamResponse(headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while (message := await call.read()) is not grpc.aio.EOF:
                if message.HasField("chunk") and message.chunk.audio:
                    await response.write(message.chunk.audio)
        except grpc.RpcError as err:
            # Headers are gone: cut the connection so the client sees a broken stream
            # (no final chunk) rather than audio that just stops.
            _LOGGER.warning("stream failed after headers: %s", err.code().name)
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response

    async def voices(self, request: web.Request) -> web.Response:
        """``GET /v1/voices``: the gateway's voices plus what the bridge accepts."""
        try:
            reply = await self._client.voices(fresh=True, api_key=caller_key(request))
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        return web.json_response({
            "default_voice": reply.default_voice,
            "voices": [_voice(v) for v in reply.voices],
            "response_formats": list(FORMATS),
            "speed": {"min": SPEED_RANGE[0], "max": SPEED_RANGE[1], "default": 1.0},
            "pitch_semitones": {"min": PITCH_RANGE_SEMITONES[0],
                                "max": PITCH_RANGE_SEMITONES[1], "default": 0.0},
            "lexicon": {"max_entries": MAX_LEXICON_ENTRIES},
            "aliases": self._aliases.to_dict(reply.default_voice),
        })  # fmt: skip

    async def cache_report(self, request: web.Request) -> web.Response:
        """``GET /v1/cache/report?window_s=&voice=&top=``: the cache and cost report."""
        voice = request.query.get("voice", "")
        try:
            window = int(request.query.get("window_s", "0"))
            top = int(request.query.get("top", "0"))
            voice.encode("utf-8")
            check_report_args(window, top)
        except InvalidInput as exc:  # the range, as the gRPC API names it
            raise ApiError(400, exc.message.replace("max_top_sentences", "top"),
                           "invalid_query") from None  # fmt: skip
        except ValueError:  # not a number, or a voice with lone surrogates
            raise ApiError(400, "window_s and top must be whole numbers and voice "
                           "valid text", "invalid_query") from None  # fmt: skip
        try:
            reply = await self._client.cache_report(
                window, voice, top, caller_key(request)
            )
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        return web.json_response(report_to_dict(reply))

    async def healthz(self, request: web.Request) -> web.Response:
        """Liveness: the bridge's loop answers."""
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        """Readiness: not draining, and the gateway answers SERVING."""
        status = "DRAINING" if self.draining else await self._client.health()
        body = {"status": status, "gateway": self._gateway_addr}
        return web.json_response(body, status=200 if status == "SERVING" else 503)

    async def index(self, request: web.Request) -> web.FileResponse:
        """The WebUI."""
        return web.FileResponse(STATIC_DIR / "index.html")


def _voice(v: gw.Voice) -> dict[str, object]:
    return {"name": v.name, "emotions": list(v.emotions), "speakers": list(v.speakers),
            "sample_rate_hz": v.sample_rate_hz,
            "revisions": {"frontend": v.revisions.frontend,
                          "acoustic": v.revisions.acoustic,
                          "vocoder": v.revisions.vocoder}}  # fmt: skip
