"""HTTP errors in OpenAI's shape, and the gRPC status -> HTTP status mapping."""

from __future__ import annotations

import grpc
from aiohttp import web

__all__ = ["ApiError", "from_rpc_error", "http_status"]

_HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# OpenAI's error ``type`` values for the statuses we return.
_TYPES = {400: "invalid_request_error", 404: "invalid_request_error",
          429: "rate_limit_error", 503: "service_unavailable", 504: "timeout"}  # fmt: skip


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status for a gRPC status code (anything unlisted is 500)."""
    return _HTTP_STATUS.get(code, 500)


class ApiError(Exception):
    """An error answer: HTTP status, message for the caller, machine-readable code."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code

    def response(self) -> web.Response:
        """The JSON response ``{"error": {"message", "type", "code"}}``."""
        body = {"error": {"message": self.message,
                          "type": _TYPES.get(self.status, "server_error"),
                          "code": self.code}}  # fmt: skip
        return web.json_response(body, status=self.status)


def from_rpc_error(err: grpc.RpcError) -> ApiError:
    """The ApiError for a failed gateway call.

    The gateway's own message is kept for client errors (it says what to fix); an
    internal error's detail stays in the logs, behind a generic message.
    """
    code_of = getattr(err, "code", None)
    code = code_of() if callable(code_of) else grpc.StatusCode.UNKNOWN
    status = http_status(code)
    if status == 500:
        message = "the speech service failed; retry later or report the request id"
    elif code == grpc.StatusCode.UNAVAILABLE:
        message = "the speech service is unavailable; retry later"
    else:
        details = getattr(err, "details", None)
        message = (details() if callable(details) else "") or code.name.lower()
    return ApiError(status, message, code.name.lower())
