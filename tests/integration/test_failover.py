"""Mid-stream failover through real processes on loopback: two acoustic and two
vocoder replicas, one vocoder SIGKILLed under concurrent load; every request still
completes with the audio of an undisturbed run (same length, within 1 int16 step).

The helpers here also drive the network-namespace variant (test_failover_netns.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sambert_tts_protos.v1 import (
    audio_pb2,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
)
from tts_common.stack import LocalStack

pytestmark = pytest.mark.slow

MODEL_DIR = Path(__file__).resolve().parents[2] / "voices" / "noise_test"
TIMEOUT_S = 600.0
"""Deadline of each call: far past what the work takes even on a slow, loaded box,
so the gateway's admission (which refuses work that would miss its deadline) never
turns this failover test into an overload test."""
_PHRASES = (
    "今天天气很好",
    "我们一起去公园散步吧",
    "明天早上八点出发",
    "他说不想再见到你",
    "一会儿去哪儿看花儿",
    "这儿的风景真美啊",
    "你到底想怎么样",
    "中华人民共和国成立了",
)
TEXTS = tuple(
    "。".join(_PHRASES[(i + k) % len(_PHRASES)] for k in range(3)) + "。"
    for i in range(len(_PHRASES))
)
"""Eight three-sentence requests; each sentence is in three of them, so under load
some sentences are also awaited through the cache's singleflight."""
STACK_ENV = {"ACOUSTIC_TORCH_THREADS": "1", "VOCODER_TORCH_THREADS": "1"}
"""One torch thread per model process: the machine may have two cores."""


async def synthesize(
    stub, text: str, no_cache: bool, on_audio: Callable[[], None] = lambda: None
) -> np.ndarray:
    """One StreamSynthesize call's PCM; ``on_audio`` runs at its first audio."""
    request = gateway_service_pb2.StreamSynthesizeRequest(
        text=text, encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE, no_cache=no_cache
    )
    parts: list[bytes] = []
    async for message in stub.StreamSynthesize(request, timeout=TIMEOUT_S):
        if message.HasField("chunk") and message.chunk.audio:
            if not parts:
                on_audio()
            parts.append(message.chunk.audio)
    return np.frombuffer(b"".join(parts), np.int16)


async def reference_run(address: str) -> list[np.ndarray]:
    """Every text once, two at a time, uncached: the undisturbed audio."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = gateway_service_pb2_grpc.GatewayServiceStub(channel)
        out: list[np.ndarray] = []
        for i in range(0, len(TEXTS), 2):
            pair = [synthesize(stub, t, no_cache=True) for t in TEXTS[i : i + 2]]
            out += await asyncio.gather(*pair)
        return out


async def load_with_failure(
    address: str, fail: Callable[[], None], after: int
) -> tuple[list[np.ndarray], float]:
    """All texts at once, through the cache; ``fail()`` runs once ``after`` of the
    requests have received audio, i.e. while every one of them is mid-stream.

    Returns:
        Each request's audio, and the seconds from ``fail()`` to the last one's end.
    """
    streaming, seen = asyncio.Event(), [0]

    def first_audio() -> None:
        seen[0] += 1
        if seen[0] == after:
            streaming.set()

    async with grpc.aio.insecure_channel(address) as channel:
        stub = gateway_service_pb2_grpc.GatewayServiceStub(channel)
        tasks = [
            asyncio.create_task(synthesize(stub, t, False, first_audio)) for t in TEXTS
        ]
        try:
            await asyncio.wait_for(streaming.wait(), TIMEOUT_S)
            fail()
            failed_at = time.monotonic()
            audio = list(await asyncio.gather(*tasks))
            return audio, time.monotonic() - failed_at
        finally:
            for task in tasks:
                task.cancel()


async def cached_run(address: str) -> list[np.ndarray]:
    """Every text again, through the cache the load filled."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = gateway_service_pb2_grpc.GatewayServiceStub(channel)
        return list(await asyncio.gather(*(synthesize(stub, t, False) for t in TEXTS)))


def assert_same_audio(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    """Same length exactly and within one int16 step (the vocoder's batching)."""
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a.size == b.size > 0, f"request {i}: {a.size} samples, want {b.size}"
        diff = int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())
        assert diff <= 1, f"request {i}: differs by {diff} int16 steps"


def metric(host: str, port: int, name: str, **labels: str) -> float:
    """Sum of a Prometheus sample on a service's metrics endpoint."""
    url = f"http://{host}:{port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def check_failover_run(stack: LocalStack, fail: Callable[[], None]) -> float:
    """Reference, loaded run with ``fail`` mid-way, cached repeat; all equal.

    Returns:
        Seconds from the failure to the end of the load.
    """
    address = stack.gateway_address
    reference = await reference_run(address)
    loaded, recovery_s = await load_with_failure(address, fail, len(TEXTS) // 2)
    assert_same_audio(loaded, reference)
    host = address.rsplit(":", 1)[0]
    port = stack.processes["gateway"].metrics_port
    assert metric(host, port, "tts_gateway_failovers_total", stage="vocoder") >= 1
    hits = metric(host, port, "tts_cache_hits_total")
    assert_same_audio(await cached_run(address), reference)
    assert metric(host, port, "tts_cache_hits_total") - hits == len(TEXTS) * 3
    return recovery_s


def test_vocoder_killed_under_load_loses_no_audio() -> None:
    """SIGKILL one of two vocoders while eight streams run: all complete, equal to
    the undisturbed audio, and the cache they filled is equal to it too."""
    with LocalStack(
        MODEL_DIR, replicas={"acoustic": 2, "vocoder": 2}, env=STACK_ENV,
        startup_timeout_s=120, grace_s=5,
    ) as stack:  # fmt: skip
        victim = stack.processes["vocoder-2"].popen
        kill = lambda: os.kill(victim.pid, signal.SIGKILL)  # noqa: E731
        asyncio.run(check_failover_run(stack, kill))
        assert victim.wait(timeout=10) == -signal.SIGKILL
