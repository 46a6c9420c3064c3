"""HTTP errors in OpenAI's shape, and the gRPC status -> HTTP status mapping."""

from __future__ import annotations

import math
from typing import Any

import grpc
from aiohttp import web

from tts_common.auth import RETRY_AFTER_MS_HEADER

__all__ = [
    "HTTP_UNAUTHENTICATED_MESSAGE",
    "ApiError",
    "from_rpc_error",
    "http_status",
    "rate_limited",
    "read_stream_header",
    "unauthenticated",
]

_HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# OpenAI's error ``type`` values for the statuses we return.
_TYPES = {400: "invalid_request_error", 401: "invalid_request_error",
          403: "invalid_request_error", 404: "invalid_request_error",
          429: "rate_limit_error", 503: "service_unavailable", 504: "timeout"}  # fmt: skip
HTTP_UNAUTHENTICATED_MESSAGE = (
    "missing or invalid API key; send it as 'Authorization: Bearer <key>' "
    "(or 'X-Api-Key: <key>')"
)
"""What the bridge answers (401) to a request without a valid key."""


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status for a gRPC status code (anything unlisted is 500)."""
    return _HTTP_STATUS.get(code, 500)


class ApiError(Exception):
    """An error answer: HTTP status, message for the caller, machine-readable code."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or {}
        """Extra response headers (``WWW-Authenticate``, ``Retry-After``)."""

    def response(self) -> web.Response:
        """The JSON response ``{"error": {"message", "type", "code"}}``."""
        body = {"error": {"message": self.message,
                          "type": _TYPES.get(self.status, "server_error"),
                          "code": self.code}}  # fmt: skip
        return web.json_response(body, status=self.status, headers=self.headers)


def unauthenticated() -> ApiError:
    """The 401 for a missing or wrong key, in OpenAI's words."""
    return ApiError(401, HTTP_UNAUTHENTICATED_MESSAGE, "invalid_api_key",
                    {"WWW-Authenticate": "Bearer"})  # fmt: skip


def rate_limited(message: str, wait_s: float) -> ApiError:
    """The 429 for a key over its rate, with ``Retry-After`` in whole seconds."""
    return ApiError(429, message, "rate_limit_exceeded",
                    {"Retry-After": str(max(1, math.ceil(wait_s)))})  # fmt: skip


def from_rpc_error(err: grpc.RpcError) -> ApiError:
    """The ApiError for a failed gateway call.

    The gateway's own message is kept for client errors (it says what to fix); an
    internal error's detail stays in the logs, behind a generic message.
    """
    code_of = getattr(err, "code", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return unauthenticated()  # the gateway's words are about gRPC metadata
    status = http_status(code)
    if status == 500:
        message = "the speech service failed; retry later or report the request id"
    elif code == grpc.StatusCode.UNAVAILABLE:
        message = "the speech service is unavailable; retry later"
    else:
        details = getattr(err, "details", None)
        message = (details() if callable(details) else "") or code.name.lower()
    wait_ms = _retry_after_ms(err) if status == 429 else None
    if wait_ms is not None:
        return rate_limited(message, wait_ms / 1000)
    return ApiError(status, message, code.name.lower())


def _retry_after_ms(err: grpc.RpcError) -> float | None:
    """The gateway's ``retry-after-ms`` hint of a refused call, if it sent one."""
    trailing = getattr(err, "trailing_metadata", None)
    for key, value in (trailing() if callable(trailing) else None) or ():
        if key == RETRY_AFTER_MS_HEADER and isinstance(value, str) and value.isdigit():
            return float(value)
    return None


async def read_stream_header(call: Any) -> Any:
    """The header that starts a gateway stream (``StreamSynthesizeHeader``).

    Raises:
        ApiError: the gateway's refusal as its HTTP status, or 500 when the stream
            did not start with a header.
    """
    try:
        first = await call.read()
    except grpc.RpcError as err:
        raise from_rpc_error(err) from None
    if first is grpc.aio.EOF or not first.HasField("header"):
        raise ApiError(500, "the speech service sent no audio header", "internal")
    return first.header
