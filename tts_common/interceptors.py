"""The aio server interceptor every stage runs: request id, error mapping, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc

from tts_common.errors import TtsError
from tts_common.logging import REQUEST_ID
from tts_common.metrics import Metrics

__all__ = [
    "MAX_REQUEST_ID_CHARS",
    "REQUEST_ID_HEADER",
    "ServerInterceptor",
    "is_request_id",
    "request_id_from_metadata",
]

_LOGGER = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
"""Metadata key carrying the request id in both directions."""

MAX_REQUEST_ID_CHARS = 128
"""Longest request id kept; longer ones are replaced or refused."""
_Handler: TypeAlias = grpc.RpcMethodHandler
_Continuation: TypeAlias = Callable[
    [grpc.HandlerCallDetails], Awaitable[_Handler | None]
]


def is_request_id(value: str) -> bool:
    """True for 1 to 128 printable ASCII characters (space to ``~``): what gRPC
    metadata can carry back to the caller and every log line can hold as is."""
    return (
        0 < len(value) <= MAX_REQUEST_ID_CHARS
        and value.isascii()
        and value.isprintable()
    )


def request_id_from_metadata(metadata: Any) -> str:
    """The caller's ``x-request-id`` when usable, else a fresh uuid4 hex.

    Ids that fail :func:`is_request_id` are replaced, because they end up in every
    log line and response of the request.
    """
    for key, value in metadata or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str):
            value = value.strip()
            if is_request_id(value):
                return value
    return uuid.uuid4().hex


class _Call:
    """Book-keeping for one RPC: id, start time, final status name."""

    def __init__(self, method: str, request_id: str) -> None:
        self.method = method
        self.request_id = request_id
        self.start = time.perf_counter()
        self.code: str | None = None
        self.first_message_seen = False


class ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Wraps every handler kind (unary/stream in, unary/stream out).

    For each RPC it:

    * takes the request id from ``x-request-id`` metadata or mints one, puts it in
      :data:`tts_common.logging.REQUEST_ID` for the log formatter, and echoes it in
      the trailing metadata;
    * turns a :class:`~tts_common.errors.TtsError` into ``context.abort`` with the
      status its class names and its message;
    * turns any other exception into INTERNAL ``"internal error (request id X)"``
      and logs the traceback; a plain exception would otherwise reach the client
      as UNKNOWN with the exception text;
    * leaves gRPC's own abort and cancellation alone;
    * records count, latency, time to first streamed message and in-flight RPCs in
      the injected :class:`~tts_common.metrics.Metrics`, when one is given.
    """

    def __init__(self, metrics: Metrics | None = None) -> None:
        """Create the interceptor; ``metrics`` receives the per-RPC measurements."""
        self._metrics = metrics

    async def intercept_service(
        self, continuation: _Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> _Handler | None:
        """Return the handler for this call, wrapped; unknown methods pass through."""
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata

        def begin() -> _Call:
            return _Call(method, request_id_from_metadata(metadata))

        common = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, begin), **common
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(handler.stream_unary, begin), **common
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, begin), **common
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(handler.stream_stream, begin), **common
        )

    def _wrap_unary(
        self, behavior: Callable[..., Any], begin: Callable[[], _Call]
    ) -> Callable[..., Awaitable[Any]]:
        """Wrap a handler that returns one response (request may be a stream)."""

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            call = self._start(begin(), context)
            token = REQUEST_ID.set(call.request_id)
            try:
                return await behavior(request, context)
            except BaseException as exc:
                await self._fail(call, context, exc)
                raise
            finally:
                self._finish(call, context)
                _reset_request_id(token)

        return wrapper

    def _wrap_stream(
        self, behavior: Callable[..., Any], begin: Callable[[], _Call]
    ) -> Callable[..., Any]:
        """Wrap a response-streaming handler (async generator or context.write)."""
        if not inspect.isasyncgenfunction(behavior):
            # Reader/writer style (e.g. the health Watch): a coroutine returning None.
            return self._wrap_unary(behavior, begin)

        async def wrapper(
            request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            call = self._start(begin(), context)
            token = REQUEST_ID.set(call.request_id)
            try:
                # aclosing: if this wrapper is closed early, the servicer's generator
                # runs its finally blocks (cancelling downstream calls) right away,
                # not whenever the garbage collector finds it.
                async with contextlib.aclosing(behavior(request, context)) as responses:
                    async for response in responses:
                        self._first_message(call)
                        yield response
            except BaseException as exc:
                await self._fail(call, context, exc)
                raise
            finally:
                self._finish(call, context)
                _reset_request_id(token)

        return wrapper

    def _start(self, call: _Call, context: grpc.aio.ServicerContext) -> _Call:
        context.set_trailing_metadata(((REQUEST_ID_HEADER, call.request_id),))
        if self._metrics is not None:
            self._metrics.rpc_started(call.method)
        return call

    def _first_message(self, call: _Call) -> None:
        if not call.first_message_seen:
            call.first_message_seen = True
            if self._metrics is not None:
                elapsed = time.perf_counter() - call.start
                self._metrics.first_message(call.method, elapsed)

    async def _fail(
        self, call: _Call, context: grpc.aio.ServicerContext, exc: BaseException
    ) -> None:
        """Map ``exc`` to a status: abort (raises AbortError) or return to re-raise."""
        if isinstance(exc, grpc.aio.AbortError):
            code = context.code()
            call.code = code.name if code is not None else "UNKNOWN"
            return
        if isinstance(exc, asyncio.CancelledError):
            call.code = "CANCELLED"
            return
        if not isinstance(exc, Exception):
            return  # KeyboardInterrupt, SystemExit, GeneratorExit: not ours to map
        # A servicer may have adopted the request's own id (a request_id field) in the
        # context var after the interceptor read the metadata: echo what is current.
        request_id = REQUEST_ID.get() or call.request_id
        trailing: tuple[tuple[str, str], ...] = ((REQUEST_ID_HEADER, request_id),)
        if isinstance(exc, TtsError):
            code = _status_code(exc.status)
            call.code = code.name
            # The message may quote request content, so it stays out of INFO logs.
            _LOGGER.info("%s -> %s (%s)", call.method, code.name, type(exc).__name__)
            _LOGGER.debug("%s -> %s: %s", call.method, code.name, exc.message)
            trailing = (*trailing, *exc.trailing_metadata)
            await context.abort(code, exc.message, trailing_metadata=trailing)
        call.code = "INTERNAL"
        _LOGGER.error("%s failed with an unexpected error", call.method, exc_info=exc)
        await context.abort(
            grpc.StatusCode.INTERNAL,
            f"internal error (request id {request_id})",
            trailing_metadata=trailing,
        )

    def _finish(self, call: _Call, context: grpc.aio.ServicerContext) -> None:
        if self._metrics is None:
            return
        code = call.code
        if code is None:
            # The handler returned; it may still have set a status with set_code().
            set_code = context.code()
            code = set_code.name if set_code is not None else "OK"
        self._metrics.rpc_finished(call.method, code, time.perf_counter() - call.start)


def _reset_request_id(token: contextvars.Token[str | None]) -> None:
    """Undo our REQUEST_ID.set, tolerating a generator closed from another context."""
    # An async generator finalized by the loop's GC hook runs in a new task's
    # context, where the token is foreign; the RPC's own context is gone anyway.
    with contextlib.suppress(ValueError):
        REQUEST_ID.reset(token)


def _status_code(name: str) -> grpc.StatusCode:
    """The gRPC status named by a :class:`TtsError`; INTERNAL for a bad name."""
    try:
        return grpc.StatusCode[name]
    except KeyError:
        _LOGGER.error("TtsError names unknown status %r; answering INTERNAL", name)
        return grpc.StatusCode.INTERNAL
