"""The aio server interceptor that checks API keys (:mod:`tts_common.apikeys`) and
their rate limits before any handler runs; health checks stay open."""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc
from prometheus_client import CollectorRegistry, Counter

from tts_common.apikeys import ApiKeys, RateLimiter, presented_key
from tts_common.errors import RETRY_AFTER_MS_HEADER
from tts_common.interceptors import REQUEST_ID_HEADER
from tts_common.logging import API_KEY_NAME, REQUEST_ID
from tts_common.metrics import split_method

__all__ = ["RETRY_AFTER_MS_HEADER", "UNAUTHENTICATED_MESSAGE", "AuthInterceptor"]

_LOGGER = logging.getLogger(__name__)

UNAUTHENTICATED_MESSAGE = (
    "missing or invalid API key; send it as 'authorization: Bearer <key>' "
    "(or 'x-api-key: <key>')"
)
"""What a caller without a valid key is told."""
_OPEN_SERVICES = frozenset({"grpc.health.v1.Health"})
_Handler: TypeAlias = grpc.RpcMethodHandler


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Refuses RPCs without a valid key (UNAUTHENTICATED) or over the key's rate
    (RESOURCE_EXHAUSTED with ``retry-after-ms``) before their handler runs; health
    checks stay open for probes. Runs inside the house interceptor, so refusals are
    counted and carry the request id. Counts ``tts_auth_requests_total{key,result}``.
    """

    def __init__(
        self,
        keys: ApiKeys,
        registry: CollectorRegistry | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        """Check against ``keys``; count on ``registry`` (a private one when None)."""
        self._keys, self._limiter = keys, limiter or RateLimiter()
        self.requests = Counter(
            "tts_auth_requests",
            "Calls by API key name and result (ok, unauthenticated, rate_limited).",
            ["key", "result"],
            registry=registry if registry is not None else CollectorRegistry(),
        )

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        """The handler, wrapped to carry the key's name, or one that refuses."""
        handler = await continuation(details)
        service, _ = split_method(details.method)
        if handler is None or service in _OPEN_SERVICES:
            return handler
        metadata = {k: v for k, v in details.invocation_metadata or ()
                    if isinstance(v, str)}  # fmt: skip
        key = self._keys.match(
            presented_key(metadata.get("authorization"), metadata.get("x-api-key"))
        )
        if key is None:
            self.requests.labels("", "unauthenticated").inc()
            _LOGGER.info("%s refused: no valid API key", details.method)
            return _rewrap(handler, _refusal(grpc.StatusCode.UNAUTHENTICATED,
                                             UNAUTHENTICATED_MESSAGE))  # fmt: skip
        wait_s = self._limiter.take(key)
        if wait_s > 0:
            self.requests.labels(key.name, "rate_limited").inc()
            _LOGGER.info("%s refused: key %s over its rate limit", details.method,
                         key.name)  # fmt: skip
            message = (
                f"API key {key.name!r} is over its limit of {key.rate_per_s:g} "
                f"requests/s (burst {key.burst}); retry in {wait_s:.2f} s"
            )
            trailing = ((RETRY_AFTER_MS_HEADER, str(math.ceil(wait_s * 1000))),)
            refusal = _refusal(grpc.StatusCode.RESOURCE_EXHAUSTED, message, trailing)
            return _rewrap(handler, refusal)
        self.requests.labels(key.name, "ok").inc()
        return _rewrap(handler, None, key.name)


def _refusal(
    code: grpc.StatusCode, message: str, trailing: tuple[tuple[str, str], ...] = ()
) -> Callable[..., Awaitable[None]]:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        # Trailing metadata given to abort replaces what the house interceptor set:
        # keep its request id beside ours (an empty tuple keeps it as it is).
        request_id = REQUEST_ID.get()
        if trailing and request_id:
            extra = ((REQUEST_ID_HEADER, request_id), *trailing)
        else:
            extra = trailing
        await context.abort(code, message, trailing_metadata=extra)

    return refuse


def _named(behavior: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``behavior`` run with :data:`API_KEY_NAME` set (for the logs)."""
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            token = API_KEY_NAME.set(name)
            try:
                async with contextlib.aclosing(behavior(request, context)) as replies:
                    async for reply in replies:
                        yield reply
            finally:
                with contextlib.suppress(ValueError):  # closed from another context
                    API_KEY_NAME.reset(token)

        return stream

    async def call(request: Any, context: Any) -> Any:
        token = API_KEY_NAME.set(name)
        try:
            return await behavior(request, context)
        finally:
            API_KEY_NAME.reset(token)

    return call


def _rewrap(
    handler: _Handler, refusal: Callable[..., Any] | None, name: str = ""
) -> _Handler:
    """``handler`` of the same kind, its behaviour refused or run under ``name``."""
    common = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    for kind, factory in (
        ("unary_unary", grpc.unary_unary_rpc_method_handler),
        ("unary_stream", grpc.unary_stream_rpc_method_handler),
        ("stream_unary", grpc.stream_unary_rpc_method_handler),
        ("stream_stream", grpc.stream_stream_rpc_method_handler),
    ):
        behavior = getattr(handler, kind)
        if behavior is not None:
            return factory(refusal or _named(behavior, name), **common)
    return handler
