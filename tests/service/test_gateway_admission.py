"""Whole-request admission in the gateway: past capacity, the requests let in finish
within their deadlines and the rest are refused at once (RESOURCE_EXHAUSTED with
``retry-after-ms``) without reaching the models; a hot sentence waited on by many
callers is served to all of them."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import grpc
from aiohttp import web

from gateway.http.app import build_app
from gateway.http.config import HttpConfig
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service import test_gateway_cache as _shared
from tests.service.test_gateway_cache import cached_gateway
from tts_common.errors import RETRY_AFTER_MS_HEADER

redis_server = _shared.redis_server
rdb = _shared.rdb

_TEXTS = [f"第{n}位客人请到{n}号窗口办理业务。" for n in range(24)]


async def _call(
    stub: Any, text: str, timeout: float, **fields: Any
) -> tuple[str, dict[str, Any]]:
    """One Synthesize call: its status name and trailing metadata."""
    try:
        call = stub.Synthesize(
            gw.SynthesizeRequest(text=text, **fields), timeout=timeout
        )
        await call
        code, trailers = grpc.StatusCode.OK, await call.trailing_metadata()
    except grpc.aio.AioRpcError as exc:
        code, trailers = exc.code(), exc.trailing_metadata()
    return code.name, dict(trailers or ())


async def test_past_capacity_the_admitted_finish_and_the_rest_are_refused(
    start_gateway, fake_stages
) -> None:
    acoustic = fake_stages.acoustic
    acoustic.chunk_delay_s = 0.015  # about 0.2 s of model time per request
    gateway = await start_gateway(max_syntheses=1, max_waiting=32)
    for text in _TEXTS[:2]:  # measure the cost of a request
        assert (await _call(gateway.stub, text, 10.0, no_cache=True))[0] == "OK"
    assert gateway.app.admission.seconds_per_unit  # the cost is measured now
    before = len(acoustic.requests)

    outcomes = await asyncio.gather(
        *(_call(gateway.stub, t, 2.0, no_cache=True) for t in _TEXTS)
    )
    codes = [code for code, _ in outcomes]
    assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}, codes
    ok = codes.count("OK")
    assert 1 <= ok < len(_TEXTS), codes  # some served, some refused: not all late
    for code, trailers in outcomes:
        if code == "RESOURCE_EXHAUSTED":
            assert int(trailers[RETRY_AFTER_MS_HEADER]) > 0
    # A refused request never reached the models.
    assert len(acoustic.requests) - before == ok


async def test_a_hot_sentence_is_served_to_every_waiter_under_load(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """Waiters wait for the one synthesis of their sentence as long as their
    deadline allows (not half of it): all are served by one model run, though it
    takes most of their deadline, and none needs a slot of its own."""
    gate = fake_stages.acoustic.gates["热门"] = asyncio.Event()
    gateway = await start_gateway(
        max_syntheses=1, max_waiting=0, **cached_gateway(redis_server)
    )
    calls = [
        asyncio.create_task(_call(gateway.stub, "热门的一句话。", 3.0))
        for _ in range(12)
    ]
    await asyncio.sleep(2.0)  # past half of every caller's deadline
    gate.set()
    outcomes = await asyncio.gather(*calls)
    assert [code for code, _ in outcomes] == ["OK"] * 12
    assert fake_stages.acoustic.seen.calls == 1


async def test_a_refused_stream_ends_with_its_status_before_any_header(
    start_gateway, fake_stages
) -> None:
    """The stream's header waits for the first audio: a refusal is the call's only
    answer over gRPC, and over HTTP a 429 (never a 200 cut short)."""
    gate = fake_stages.acoustic.gates["占用"] = asyncio.Event()
    gateway = await start_gateway(max_syntheses=1, max_waiting=0)
    busy = asyncio.create_task(_call(gateway.stub, "占用唯一的名额。", 10.0))
    await _until(lambda: gateway.app.admission.running == 1)
    runner = web.AppRunner(build_app(HttpConfig(gateway_addr=gateway.address)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        call = gateway.stub.StreamSynthesize(
            gw.StreamSynthesizeRequest(text="另一句话。", no_cache=True), timeout=5.0
        )
        received: list[Any] = []
        code = grpc.StatusCode.OK
        try:
            async for message in call:
                received.append(message)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
        assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert received == []
        async with aiohttp.ClientSession() as session:
            body = {"input": "另一句话。", "no_cache": True}
            async with session.post(
                f"http://{host}:{port}/v1/audio/speech", json=body
            ) as reply:
                assert reply.status == 429
                assert int(reply.headers["Retry-After"]) >= 1
    finally:
        gate.set()
        await runner.cleanup()
    assert (await busy)[0] == "OK"


async def _until(predicate: Any, limit_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)
