"""API keys on the bridge: ``/v1/*`` needs a key; health, the page and its files not.

The caller's key is always passed on to the gateway (which checks its own list), so
a bridge without keys of its own still answers 401 when the gateway refuses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.http.errors import rate_limited, unauthenticated
from tts_common.apikeys import ApiKeys, RateLimiter, presented_key
from tts_common.logging import API_KEY_NAME

__all__ = ["auth_middleware", "caller_key"]

_LOGGER = logging.getLogger(__name__)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_MAX_KEY_CHARS = 256


def caller_key(request: web.Request) -> str | None:
    """The key in ``Authorization: Bearer`` or ``X-Api-Key``; None when absent or
    not a possible key (it must fit in gRPC metadata to be passed on)."""
    key = presented_key(
        request.headers.get("Authorization"), request.headers.get("X-Api-Key")
    )
    if key is None or len(key) > _MAX_KEY_CHARS:
        return None
    return key if key.isascii() and key.isprintable() and " " not in key else None


def auth_middleware(keys: ApiKeys, limiter: RateLimiter | None = None) -> Middleware:
    """A middleware that refuses ``/v1/*`` without a valid key (401) or over the
    key's rate (429 with ``Retry-After``), before the handler runs. With no keys it
    lets everything through (the gateway may still refuse)."""
    limiter = limiter or RateLimiter()

    @web.middleware
    async def check(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if not keys.enabled or not request.path.startswith("/v1/"):
            return await handler(request)
        key = keys.match(caller_key(request))
        if key is None:
            _LOGGER.info("%s %s refused: no valid API key", request.method,
                         request.path)  # fmt: skip
            raise unauthenticated()
        wait_s = limiter.take(key)
        if wait_s > 0:
            _LOGGER.info("%s refused: key %s over its rate limit", request.path,
                         key.name)  # fmt: skip
            raise rate_limited(
                f"API key {key.name!r} is over its limit of {key.rate_per_s:g} "
                f"requests/s (burst {key.burst}); retry in {wait_s:.2f} s",
                wait_s,
            )
        token = API_KEY_NAME.set(key.name)
        try:
            return await handler(request)
        finally:
            API_KEY_NAME.reset(token)

    return check
