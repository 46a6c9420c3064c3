"""A tiny raw-bytes servicer and client helpers for the in-process runtime tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tts_common.errors import InvalidInput
from tts_common.executor import BoundedExecutor
from tts_common.health import HealthState
from tts_common.logging import current_request_id
from tts_common.metrics import Metrics

SERVICE = "test.v1.DummyService"
"""Full name of the dummy service (no proto: raw-bytes generic handlers)."""
TIMEOUT_S = 5.0
"""Deadline of every client call and wait in these tests."""
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Dummy:
    """A tiny servicer of raw-bytes methods, one per handler kind."""

    executor: BoundedExecutor
    release: asyncio.Event = field(default_factory=asyncio.Event)
    job_gate: threading.Event = field(default_factory=threading.Event)
    stream_closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def echo(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """Unary: behaviour chosen by the request bytes."""
        if request == b"invalid":
            raise InvalidInput("text is empty; send 1 to 2000 characters")
        if request == b"boom":
            raise RuntimeError("secret internal detail")
        if request == b"abort":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such voice")
        if request == b"request-id":
            return (current_request_id() or "").encode()
        if request == b"infer":
            await self.executor.submit(self.job_gate.wait, TIMEOUT_S)
        return request

    async def count(
        self, request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Server stream: chunk 0 at once, the rest after ``release``; may fail."""
        try:
            yield b"0"
            if request == b"fail":
                raise InvalidInput("chunk 1 is bad")
            await self.release.wait()
            for i in range(1, 4):
                yield str(i).encode()
        finally:
            self.stream_closed.set()

    async def total(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """Client stream: total length; an empty message is the caller's error."""
        size = 0
        async for chunk in requests:
            if not chunk:
                raise InvalidInput("empty chunk")
            size += len(chunk)
        return str(size).encode()

    async def chat(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Bidi stream: echoes; ``boom`` is an unexpected failure."""
        async for chunk in requests:
            if chunk == b"boom":
                raise RuntimeError("bidi broke")
            yield chunk

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Add the handlers and return the service name."""
        handlers = {
            "Echo": grpc.unary_unary_rpc_method_handler(self.echo),
            "Count": grpc.unary_stream_rpc_method_handler(self.count),
            "Total": grpc.stream_unary_rpc_method_handler(self.total),
            "Chat": grpc.stream_stream_rpc_method_handler(self.chat),
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, handlers),)
        )
        return [SERVICE]


@dataclass
class Stack:
    """A started server and a channel to it."""

    server: grpc.aio.Server
    health: HealthState
    metrics: Metrics
    dummy: Dummy
    channel: grpc.aio.Channel

    def method(self, kind: str, name: str) -> Any:
        """A raw-bytes client callable for ``/test.v1.DummyService/<name>``."""
        return getattr(self.channel, kind)(f"/{SERVICE}/{name}")

    async def check(self, service: str = "") -> int:
        """Health/Check status for ``service``."""
        return await check_health(self.channel, service)


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples called ``name`` in Prometheus exposition ``text``, by sorted labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def http_get(url: str) -> str:
    """GET ``url`` (blocking; run it in a thread) and return the body."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        body: bytes = response.read()  # urlopen's result is typed Any
    return body.decode("utf-8")


def free_port() -> int:
    """A TCP port that was free a moment ago, for settings that cannot say 0."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def read_rest(call: Any) -> list[Any]:
    """Read a stream to its end with read() (iteration may not follow read()); the
    messages, of whatever type the call streams."""
    chunks = []
    while (chunk := await call.read()) is not grpc.aio.EOF:
        chunks.append(chunk)
    return chunks


async def check_health(channel: grpc.aio.Channel, service: str = "") -> int:
    """Health/Check status of ``service`` over ``channel``."""
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service=service)
    return int((await stub.Check(request, timeout=TIMEOUT_S)).status)


async def wait_for_status(stack: Stack | grpc.aio.Channel, status: int) -> None:
    """Poll Health/Check until it reports ``status`` (errors count as not yet)."""
    channel = stack.channel if isinstance(stack, Stack) else stack
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            if await check_health(channel) == status:
                return
        except grpc.aio.AioRpcError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"health never reached {status}"
        await asyncio.sleep(0.02)
