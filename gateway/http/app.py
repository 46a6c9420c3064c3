"""The aiohttp application: routes, JSON errors, the gateway client's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from aiohttp import web

from gateway.http.auth import auth_middleware
from gateway.http.client import GatewayClient
from gateway.http.config import HttpConfig
from gateway.http.errors import ApiError, from_rpc_error
from gateway.http.handlers import STATIC_DIR, Handlers
from gateway.http.metrics import HttpMetrics
from gateway.http.openai_compat import add_speech_headers, get_model, list_models
from gateway.http.ws import SpeechStreams

__all__ = ["HANDLERS", "METRICS", "build_app"]

HANDLERS = web.AppKey("handlers", Handlers)
METRICS = web.AppKey("metrics", HttpMetrics)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _json_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Every API error as OpenAI's ``{"error": {...}}``; the page keeps aiohttp's."""
    try:
        return await handler(request)
    except ApiError as err:
        return err.response()
    except grpc.RpcError as err:  # a call a handler did not map itself
        return from_rpc_error(err).response()
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/v1/"):
            raise
        code = exc.reason.lower().replace(" ", "_")
        return ApiError(exc.status, exc.reason, code).response()


def build_app(cfg: HttpConfig) -> web.Application:
    """The bridge for ``cfg``; the gRPC channel opens on startup, closes on cleanup."""
    # Auth runs inside _json_errors, so its refusals come out as OpenAI errors;
    # the metrics see the status the client got.
    metrics = HttpMetrics()
    app = web.Application(
        middlewares=[metrics.middleware, _json_errors, auth_middleware(cfg.api_keys)],
        client_max_size=cfg.max_body_bytes,
    )
    app[METRICS] = metrics

    handlers = app[HANDLERS] = Handlers(cfg.gateway_addr, cfg.voice_aliases)
    app.on_response_prepare.append(add_speech_headers)  # X-Speed-Applied, ...

    async def gateway_client(app: web.Application) -> AsyncIterator[None]:
        # grpc.aio channels belong to the loop that makes them: open it in there.
        client = handlers.client = GatewayClient(cfg)
        yield
        await client.close()

    app.cleanup_ctx.append(gateway_client)
    app.router.add_post("/v1/audio/speech", handlers.speech)
    speech_streams = SpeechStreams(handlers, cfg.voice_aliases)  # text in: WebSocket
    app.router.add_get("/v1/audio/speech/stream", speech_streams.handle)
    app.router.add_get("/v1/voices", handlers.voices)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model}", get_model)
    app.router.add_get("/v1/cache/report", handlers.cache_report)
    app.router.add_get("/healthz", handlers.healthz)
    app.router.add_get("/readyz", handlers.readyz)
    app.router.add_get("/metrics", metrics.handle)  # open, like the health checks
    app.router.add_get("/", handlers.index)
    app.router.add_static("/static/", STATIC_DIR)
    return app
