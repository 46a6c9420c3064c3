"""The shared runtime in process: health, reflection, errors, ids, metrics, drain."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.service.runtime_helpers import (
    NOT_SERVING,
    SERVICE,
    SERVING,
    TIMEOUT_S,
    Dummy,
    Stack,
    free_port,
    http_get,
    read_rest,
    samples,
    wait_for_status,
)
from tts_common.config import ServerConfig
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics, start_metrics_server
from tts_common.server import build_server, run, serve


async def test_health_starts_not_serving_then_serves(stack: Stack) -> None:
    """Overall and per-service health are NOT_SERVING until mark_serving()."""
    assert await stack.check("") == NOT_SERVING
    assert await stack.check(SERVICE) == NOT_SERVING
    await stack.health.mark_serving()
    assert await stack.check("") == SERVING
    assert await stack.check(SERVICE) == SERVING
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.check("no.such.Service")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_watch_streams_changes(stack: Stack) -> None:
    """Watch (a context.write-style handler) works through the interceptor."""
    stub = health_pb2_grpc.HealthStub(stack.channel)
    call = stub.Watch(health_pb2.HealthCheckRequest(service=SERVICE), timeout=TIMEOUT_S)
    assert (await call.read()).status == NOT_SERVING
    await stack.health.mark_serving()
    assert (await call.read()).status == SERVING
    call.cancel()


async def test_reflection_lists_services(stack: Stack) -> None:
    """grpcurl-style reflection lists the stage's service, health and reflection."""
    stub = reflection_pb2_grpc.ServerReflectionStub(stack.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    call = stub.ServerReflectionInfo(iter([request]), timeout=TIMEOUT_S)
    names = {
        s.name
        for r in [m async for m in call]
        for s in r.list_services_response.service
    }
    assert {
        SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names


async def test_invalid_input_becomes_invalid_argument(stack: Stack) -> None:
    """A domain InvalidInput reaches the client as INVALID_ARGUMENT with its message."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.method("unary_unary", "Echo")(b"invalid", timeout=TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "text is empty; send 1 to 2000 characters"


async def test_unexpected_error_is_internal_with_request_id(
    stack: Stack, log_lines: io.StringIO
) -> None:
    """A plain exception is INTERNAL (not UNKNOWN), hides its text, logs a traceback."""
    metadata = (("x-request-id", "req-boom-1"),)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.method("unary_unary", "Echo")(
            b"boom", timeout=TIMEOUT_S, metadata=metadata
        )
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details() == "internal error (request id req-boom-1)"
    assert ("x-request-id", "req-boom-1") in tuple(info.value.trailing_metadata())
    records = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    errors = [r for r in records if r["severity"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "req-boom-1"
    assert errors[0]["service"] == "runtime-test"
    assert {"ts", "logger", "msg"} <= errors[0].keys()
    assert "RuntimeError: secret internal detail" in errors[0]["exc"]


async def test_grpc_abort_passes_through(stack: Stack) -> None:
    """A handler's own context.abort keeps its code and message."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stack.method("unary_unary", "Echo")(b"abort", timeout=TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert info.value.details() == "no such voice"


async def test_request_id_is_echoed_or_minted(stack: Stack) -> None:
    """The caller's x-request-id reaches the handler and is echoed, or one is minted."""
    echo = stack.method("unary_unary", "Echo")
    call = echo(
        b"request-id", timeout=TIMEOUT_S, metadata=(("x-request-id", "abc-123"),)
    )
    assert await call == b"abc-123"
    assert ("x-request-id", "abc-123") in tuple(await call.trailing_metadata())
    call = echo(b"request-id", timeout=TIMEOUT_S)
    minted = (await call).decode()
    assert len(minted) == 32 and int(minted, 16) >= 0
    assert ("x-request-id", minted) in tuple(await call.trailing_metadata())


async def test_overloaded_executor_is_resource_exhausted(stack: Stack) -> None:
    """A full inference executor answers RESOURCE_EXHAUSTED at once."""
    echo = stack.method("unary_unary", "Echo")
    first = asyncio.ensure_future(echo(b"infer", timeout=TIMEOUT_S))
    deadline = time.monotonic() + TIMEOUT_S
    while stack.dummy.executor.in_flight < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await echo(b"infer", timeout=TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    stack.dummy.job_gate.set()
    assert await first == b"infer"


async def test_stream_handlers_map_errors(stack: Stack) -> None:
    """Errors map the same way in server-, client- and bidi-streaming handlers."""
    call = stack.method("unary_stream", "Count")(b"fail", timeout=TIMEOUT_S)
    assert await call.read() == b"0"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call.read()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    total = stack.method("stream_unary", "Total")
    assert await total(iter([b"ab", b"cde"]), timeout=TIMEOUT_S) == b"5"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await total(iter([b"ab", b""]), timeout=TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    chat = stack.method("stream_stream", "Chat")(
        iter([b"hi", b"boom"]), timeout=TIMEOUT_S
    )
    assert await chat.read() == b"hi"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await chat.read()
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details().startswith("internal error (request id ")


async def test_client_cancel_reaches_the_servicer(stack: Stack) -> None:
    """A client that leaves mid-stream stops the servicer's generator promptly."""
    call = stack.method("unary_stream", "Count")(b"go", timeout=TIMEOUT_S)
    assert await call.read() == b"0"
    call.cancel()
    await asyncio.wait_for(stack.dummy.stream_closed.wait(), TIMEOUT_S)
    deadline = time.monotonic() + TIMEOUT_S
    labels: tuple[tuple[str, str], ...] = (
        ("grpc_code", "CANCELLED"),
        ("grpc_method", "Count"),
    )
    labels += (("grpc_service", SERVICE),)
    while labels not in samples(stack.metrics.render(), "grpc_server_handled_total"):
        assert time.monotonic() < deadline, "cancellation was not counted"
        await asyncio.sleep(0.01)


async def test_metrics_count_requests_by_code(stack: Stack) -> None:
    """Counts by code, latencies, time to first message and gauges, as Prometheus."""
    echo = stack.method("unary_unary", "Echo")
    await echo(b"hello", timeout=TIMEOUT_S)
    await echo(b"hello", timeout=TIMEOUT_S)
    for bad in (b"invalid", b"boom"):
        with pytest.raises(grpc.aio.AioRpcError):
            await echo(bad, timeout=TIMEOUT_S)
    stream = stack.method("unary_stream", "Count")(b"fail", timeout=TIMEOUT_S)
    with pytest.raises(grpc.aio.AioRpcError):
        await read_rest(stream)
    text = stack.metrics.render()
    handled = samples(text, "grpc_server_handled_total")

    def key(code: str) -> tuple[tuple[str, str], ...]:
        return (("grpc_code", code), ("grpc_method", "Echo"), ("grpc_service", SERVICE))

    assert handled[key("OK")] == 2
    assert handled[key("INVALID_ARGUMENT")] == 1
    assert handled[key("INTERNAL")] == 1
    echo_labels = (("grpc_method", "Echo"), ("grpc_service", SERVICE))
    count_labels = (("grpc_method", "Count"), ("grpc_service", SERVICE))
    assert samples(text, "grpc_server_handling_seconds_count")[echo_labels] == 4
    assert samples(text, "grpc_server_first_message_seconds_count") == {count_labels: 1}
    assert samples(text, "grpc_server_in_flight")[echo_labels] == 0
    assert samples(text, "tts_inference_queue_depth") == {(): 0.0}

    endpoint = start_metrics_server(0, stack.metrics, addr="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{endpoint.port}/metrics"
        body = await asyncio.to_thread(http_get, url)
    finally:
        endpoint.close()
    assert samples(body, "grpc_server_handled_total") == handled


async def test_sigterm_drains_in_flight_stream() -> None:
    """SIGTERM: NOT_SERVING, new calls refused, a running stream still finishes."""
    executor = BoundedExecutor(max_workers=1, max_queue=0)
    dummy = Dummy(executor)
    cfg = ServerConfig(host="127.0.0.1", port=0)
    server, port, health = build_server(cfg, dummy.register)
    seen_during_warmup: list[int] = []
    closed: list[float] = []

    async def warmup() -> None:
        seen_during_warmup.append(health.status(""))

    def on_close() -> None:
        closed.append(time.monotonic())

    drain = run(
        server, health, grace_s=5.0, drain_delay_s=0.8, warmup=warmup, on_close=on_close
    )
    runner = asyncio.create_task(drain)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stack = Stack(server, health, Metrics("unused"), dummy, channel)
    try:
        await wait_for_status(stack, SERVING)
        assert seen_during_warmup == [NOT_SERVING]
        stream = stack.method("unary_stream", "Count")(b"go", timeout=TIMEOUT_S)
        assert await stream.read() == b"0"
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.2)
        # Inside the drain delay: still answering, but NOT_SERVING.
        assert await stack.check("") == NOT_SERVING
        await asyncio.sleep(1.0)  # past the delay: server.stop(grace) is running
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stack.method("unary_unary", "Echo")(b"late", timeout=TIMEOUT_S)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert not runner.done() and not closed
        dummy.release.set()
        assert await read_rest(stream) == [b"1", b"2", b"3"]
        assert await stream.code() == grpc.StatusCode.OK
        await asyncio.wait_for(runner, TIMEOUT_S)
        assert len(closed) == 1 and closed[0] - started < 5.0
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        dummy.release.set()
        runner.cancel()
        await channel.close()
        executor.close()


async def test_serve_runs_metrics_endpoint_until_stopped() -> None:
    """serve(): SERVING after warm-up, metrics on their port, all closed on stop."""
    grpc_port, metrics_port = free_port(), free_port()
    cfg = ServerConfig(
        host="127.0.0.1", port=grpc_port, metrics_port=metrics_port, grace_s=1.0
    )
    executor = BoundedExecutor(max_workers=1, max_queue=0)
    metrics, stop = Metrics("serve-test"), asyncio.Event()
    dummy = Dummy(executor)
    running = serve(
        cfg, dummy.register, metrics, queue=executor, on_close=executor.close, stop=stop
    )
    task = asyncio.create_task(running)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        try:
            await wait_for_status(channel, SERVING)
            echo = channel.unary_unary(f"/{SERVICE}/Echo")
            assert await echo(b"hi", timeout=TIMEOUT_S) == b"hi"
            body = await asyncio.to_thread(http_get, url)
        finally:
            stop.set()
            await asyncio.wait_for(task, TIMEOUT_S)
    handled = samples(body, "grpc_server_handled_total")
    assert (
        handled[
            (("grpc_code", "OK"), ("grpc_method", "Echo"), ("grpc_service", SERVICE))
        ]
        == 1
    )
    assert samples(body, "tts_inference_queue_depth") == {(): 0.0}
    with pytest.raises(OSError):
        await asyncio.to_thread(http_get, url)
    with pytest.raises(RuntimeError, match="closed"):
        await executor.submit(time.sleep, 0)
