"""``ttsctl bench cache``: latency and throughput of cached requests (by hand).

Warms one sentence into the cache, then times ``--requests`` sequential unary
requests for it (p50/p99, target p99 <= 5 ms on loopback), the first audio of
cached streams, and cached requests per second with ``--concurrency`` callers.
Against ``--server``, or a LocalStack it starts from ``--model-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator

import grpc
from grpc_health.v1 import health_pb2

from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2
from ttsctl.stubs import GatewayStub, aio_gateway_stub, gateway_stub

__all__ = ["add_arguments", "run"]

_TEXT = "今天天气很好。"


def add_arguments(bench_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``cache`` under ``ttsctl bench``."""
    cache = bench_sub.add_parser(
        "cache", help="cached-sentence latency (p50/p99) and cached requests/s"
    )
    where = cache.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", help="a running gateway, HOST:PORT")
    where.add_argument("--model-dir", help="start a LocalStack on this model directory")
    cache.add_argument("--text", default=_TEXT, help="the one sentence to repeat")
    cache.add_argument("--requests", type=int, default=500, help="sequential requests")
    cache.add_argument("--concurrency", type=int, default=16, help="callers for req/s")
    cache.add_argument("--seconds", type=float, default=5.0, help="req/s run length")


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[str]:
    if args.server:
        yield args.server
        return
    from tts_common.stack import LocalStack

    with LocalStack(args.model_dir, startup_timeout_s=300) as stack:
        yield stack.gateway_address


def _latencies(
    stub: GatewayStub, args: argparse.Namespace
) -> tuple[list[float], list[float]]:
    unary_ms, stream_ms = [], []
    request = gateway_service_pb2.SynthesizeRequest(
        text=args.text, encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE
    )
    streq = gateway_service_pb2.StreamSynthesizeRequest(
        text=args.text, encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE
    )
    for _ in range(args.requests):
        start = time.perf_counter()
        reply = stub.Synthesize(request, timeout=30)
        unary_ms.append((time.perf_counter() - start) * 1000)
        if not all(s.cached for s in reply.sentences):
            raise SystemExit(
                "ttsctl bench cache: a request missed the cache; is "
                "REDIS_URL set on the gateway?"
            )
    for _ in range(max(args.requests // 5, 1)):  # streams: first audio
        start = time.perf_counter()
        for message in stub.StreamSynthesize(streq, timeout=30):
            if message.HasField("chunk") and message.chunk.audio:
                stream_ms.append((time.perf_counter() - start) * 1000)
    return unary_ms, stream_ms


def _floor(channel: grpc.Channel, n: int) -> list[float]:
    """Health-check round trips: this host's noise floor for any gRPC call."""
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    out = []
    for _ in range(n):
        start = time.perf_counter()
        check(health_pb2.HealthCheckRequest(), timeout=30)
        out.append((time.perf_counter() - start) * 1000)
    return out


async def _throughput(address: str, args: argparse.Namespace) -> tuple[float, int, int]:
    """Cached requests per second, misses and failed requests."""
    request = gateway_service_pb2.SynthesizeRequest(
        text=args.text, encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE
    )
    done = misses = failed = 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = aio_gateway_stub(channel)
        stop = time.perf_counter() + args.seconds

        async def caller() -> None:
            nonlocal done, misses, failed
            while time.perf_counter() < stop:
                try:
                    reply = await stub.Synthesize(request, timeout=30)
                except grpc.aio.AioRpcError:
                    failed += 1
                    continue
                done += 1
                misses += not all(s.cached for s in reply.sentences)

        start = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(args.concurrency)))
        return done / (time.perf_counter() - start), misses, failed


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print its numbers; returns the exit code."""
    with _target(args) as address, grpc.insecure_channel(address) as channel:
        stub = gateway_stub(channel)
        try:
            stub.Synthesize(
                gateway_service_pb2.SynthesizeRequest(text=args.text), timeout=120
            )  # warm: fills the cache
            unary_ms, stream_ms = _latencies(stub, args)
            floor_ms = _floor(channel, args.requests)
        except grpc.RpcError as err:
            print(f"ttsctl bench cache: {err.code().name}: {err.details()}")
            return 1
        rps, misses, failed = asyncio.run(_throughput(address, args))
    print(
        f"cached one-sentence unary, {len(unary_ms)} sequential requests: "
        f"p50 {statistics.median(unary_ms):.2f} ms, p99 {_pct(unary_ms, 0.99):.2f} ms, "
        f"max {max(unary_ms):.2f} ms (target p99 <= 5 ms)"
    )
    print(
        f"noise floor (gRPC health check, same host): "
        f"p50 {statistics.median(floor_ms):.2f} ms, p99 {_pct(floor_ms, 0.99):.2f} ms"
    )
    print(
        f"cached stream, first audio: p50 {statistics.median(stream_ms):.2f} ms, "
        f"p99 {_pct(stream_ms, 0.99):.2f} ms ({len(stream_ms)} streams)"
    )
    print(
        f"cached requests/s with {args.concurrency} concurrent callers: {rps:.0f} "
        f"({misses} missed the cache, {failed} failed)"
    )
    return 0
