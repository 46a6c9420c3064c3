"""Route handlers: speech (streamed), voices, cache report, health, the page."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import grpc
from aiohttp import web

from gateway.cache import report_to_dict
from gateway.http.client import GatewayClient
from gateway.http.errors import ApiError, from_rpc_error
from gateway.http.speech import FORMATS, SpeechParams, parse_speech
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.speed import SPEED_RANGE

__all__ = ["STATIC_DIR", "Handlers"]

_LOGGER = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).with_name("static")
_REQUEST_ID = "X-Request-Id"


class Handlers:
    """The bridge's endpoints, all backed by one :class:`GatewayClient`."""

    def __init__(self, gateway_addr: str) -> None:
        self.client: GatewayClient | None = None
        """Set when the app starts (the channel needs the running loop)."""
        self._gateway_addr = gateway_addr
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
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "the body is not valid JSON", "invalid_json") from None
        params = parse_speech(body)
        rate = await self._client.voice_rate(params.voice)
        # Never the text itself at INFO: its length and a short hash identify it.
        digest = hashlib.sha256(params.text.encode()).hexdigest()[:12]
        _LOGGER.info("speech voice=%s format=%s chars=%d text_sha256=%s",
                     params.voice or "-", params.response_format, len(params.text),
                     digest)  # fmt: skip
        call = self._client.stream(
            params.to_request(rate), request.headers.get(_REQUEST_ID, "")
        )
        try:
            return await self._relay(request, call, params)
        finally:
            call.cancel()  # a no-op once finished; stops the gateway if we left early

    async def _relay(
        self, request: web.Request, call: grpc.aio.UnaryStreamCall, params: SpeechParams
    ) -> web.StreamResponse:
        try:
            first = await call.read()
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        if first is grpc.aio.EOF or not first.HasField("header"):
            raise ApiError(500, "the speech service sent no audio header", "internal")
        header = first.header
        response = web.StreamResponse(headers={
            "Content-Type": params.format.content_type,
            "X-Sample-Rate": str(header.sample_rate_hz),
            _REQUEST_ID: header.request_id,
            "Cache-Control": "no-store",
        })  # fmt: skip
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
            reply = await self._client.voices(fresh=True)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        return web.json_response({
            "default_voice": reply.default_voice,
            "voices": [_voice(v) for v in reply.voices],
            "response_formats": list(FORMATS),
            "speed": {"min": SPEED_RANGE[0], "max": SPEED_RANGE[1], "default": 1.0},
        })  # fmt: skip

    async def cache_report(self, request: web.Request) -> web.Response:
        """``GET /v1/cache/report?window_s=&voice=&top=``: the cache and cost report."""
        try:
            window = int(request.query.get("window_s", "0"))
            top = int(request.query.get("top", "0"))
        except ValueError:
            raise ApiError(400, "window_s and top must be whole numbers",
                           "invalid_query") from None  # fmt: skip
        if window < 0 or top < 0:
            raise ApiError(
                400, "window_s and top must not be negative", "invalid_query"
            )
        try:
            reply = await self._client.cache_report(
                window, request.query.get("voice", ""), top
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
