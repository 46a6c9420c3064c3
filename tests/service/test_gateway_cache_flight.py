"""Singleflight on a real Redis: concurrent misses synthesize once, in one gateway
and across replicas; the work goes on for waiters, and waiters take over. Also the
periodic catalog refresh that keeps keys on the deployed revisions."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from gateway.cache import SentenceKey
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service import test_gateway_cache as _shared
from tests.service.fake_stages import RATE, samples_for
from tests.service.test_gateway_cache import audio_keys, cached_gateway, unary

# The Redis fixtures of the cache tests, shared (one redis-server per module).
redis_server = _shared.redis_server
rdb = _shared.rdb


async def test_twenty_concurrent_misses_synthesize_once(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """A burst of identical misses runs the frontend and the acoustic model once;
    all callers get the audio."""
    gate = fake_stages.acoustic.gates["同时"] = asyncio.Event()
    gateway = await start_gateway(**cached_gateway(redis_server))
    calls = [
        asyncio.create_task(unary(gateway.stub, "大家同时说话。")) for _ in range(20)
    ]
    await asyncio.sleep(0.3)  # every caller is now waiting on the one synthesis
    gate.set()
    replies = await asyncio.gather(*calls)
    assert fake_stages.acoustic.seen.calls == 1
    assert fake_stages.frontend.seen.calls == 1  # the analysis is coalesced too
    assert len({r.audio for r in replies}) == 1
    assert sorted(r.sentences[0].cached for r in replies) == [False] + [True] * 19
    report = await gateway.stub.GetCacheReport(gw.GetCacheReportRequest())
    assert (report.overall.misses, report.overall.hits) == (1, 19)


async def test_singleflight_spans_gateway_replicas(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """Two gateways on one Redis: the second waits on the first's lock."""
    gate = fake_stages.acoustic.gates["两个"] = asyncio.Event()
    one = await start_gateway(**cached_gateway(redis_server))
    two = await start_gateway(**cached_gateway(redis_server))
    a = asyncio.create_task(unary(one.stub, "两个网关。"))
    await asyncio.sleep(0.2)
    b = asyncio.create_task(unary(two.stub, "两个网关。"))
    await asyncio.sleep(0.2)
    gate.set()
    first, second = await asyncio.gather(a, b)
    assert fake_stages.acoustic.seen.calls == 1
    assert first.audio == second.audio and second.sentences[0].cached
    assert await rdb.keys("tts:lock:*") == []


async def test_work_goes_on_when_its_caller_leaves_but_a_waiter_remains(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """The first caller cancels mid-synthesis while another waits: the synthesis
    runs on, once, and the waiter gets it (and the cache is filled)."""
    gate = fake_stages.acoustic.gates["接管"] = asyncio.Event()
    gateway = await start_gateway(**cached_gateway(redis_server))
    leader = asyncio.create_task(unary(gateway.stub, "接管测试。"))
    await asyncio.sleep(0.2)
    waiter = asyncio.create_task(unary(gateway.stub, "接管测试。"))
    await asyncio.sleep(0.2)
    leader.cancel()
    await asyncio.sleep(0.2)
    assert not fake_stages.acoustic.seen.cancelled.is_set()
    gate.set()
    reply = await waiter
    assert reply.num_samples == samples_for("接管测试。") and reply.sentences[0].cached
    assert fake_stages.acoustic.seen.calls == 1
    assert len(await audio_keys(rdb)) == 1


async def test_waiter_takes_over_when_the_synthesis_fails(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """The first caller's deadline ends its synthesis: nothing is stored from it,
    and the caller that waited synthesizes the sentence itself."""
    gate = fake_stages.acoustic.gates["失效"] = asyncio.Event()
    gateway = await start_gateway(**cached_gateway(redis_server))
    request = gw.SynthesizeRequest(text="失效接管。")
    leader = asyncio.ensure_future(gateway.stub.Synthesize(request, timeout=0.5))
    await asyncio.sleep(0.1)
    waiter = asyncio.create_task(unary(gateway.stub, "失效接管。"))
    with pytest.raises(grpc.aio.AioRpcError):
        await leader
    await asyncio.sleep(0.3)  # the waiter's own synthesis is now blocked at the gate
    assert await audio_keys(rdb) == []
    gate.set()
    reply = await waiter
    assert reply.num_samples == samples_for("失效接管。")
    assert not reply.sentences[0].cached
    assert fake_stages.acoustic.seen.calls == 2
    assert len(await audio_keys(rdb)) == 1


async def test_lock_is_refreshed_while_synthesizing(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """A synthesis longer than the lock TTL keeps its lock: the other replica waits
    instead of synthesizing a second time."""
    gate = fake_stages.acoustic.gates["续期"] = asyncio.Event()
    short = cached_gateway(redis_server, lock_ttl_s=0.3)
    one, two = await start_gateway(**short), await start_gateway(**short)
    a = asyncio.create_task(unary(one.stub, "续期测试。"))
    await asyncio.sleep(0.2)
    b = asyncio.create_task(unary(two.stub, "续期测试。"))
    await asyncio.sleep(1.0)  # more than three lock lifetimes
    gate.set()
    first, second = await asyncio.gather(a, b)
    assert fake_stages.acoustic.seen.calls == 1
    assert second.sentences[0].cached and second.audio == first.audio


async def test_lock_of_a_dead_replica_runs_out_and_is_taken_over(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """A lock nobody refreshes (its replica died) delays a waiter by its TTL only."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    key = SentenceKey(
        "zhitian_emo", "am-rev", "voc-rev", "无主锁", "", "", 1.0, RATE
    ).digest()
    await rdb.set(f"tts:lock:{key}", "dead-replica", px=500)
    started = time.monotonic()
    reply = await unary(gateway.stub, "无主锁。")
    assert 0.4 <= time.monotonic() - started < 3.0
    assert reply.num_samples == samples_for("无主锁。")
    assert fake_stages.acoustic.seen.calls == 1 and len(await audio_keys(rdb)) == 1


async def test_catalog_revisions_are_re_read_periodically(
    start_gateway, redis_server, rdb
) -> None:
    """With the cache on, the gateway re-reads the stages' revisions on its own, so
    keys follow a redeployed model without a restart."""
    gateway = await start_gateway(**cached_gateway(redis_server, catalog_refresh_s=0.1))
    servicer = gateway.app.servicer
    first = servicer._catalog
    await asyncio.sleep(0.35)
    assert servicer._catalog is not first and servicer.catalog_names()
