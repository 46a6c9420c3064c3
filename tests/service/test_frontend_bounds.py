"""The frontend's work is bounded: SSML entities cannot expand a short document, the
limit applies to the text as read out, and an analysis whose caller left or whose
deadline passed stops within a sentence instead of running to the end."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest

from frontend_svc.servicer import FrontendServicer
from sambert_tts_protos.v1 import frontend_service_pb2 as pb
from sambert_tts_protos.v1 import frontend_service_pb2_grpc as pb_grpc
from tests.service.conftest import StartServer
from tests.service.runtime_helpers import TIMEOUT_S
from tts_common.executor import BoundedExecutor

PARAGRAPH = "今天天气很好，我们去公园散步。" * 133  # 1,995 characters, 133 sentences
SENTENCE_S = 0.05
"""What each sentence costs once slowed down: 133 sentences take about 7 s."""


@pytest.fixture(scope="module")
def frontend() -> Any:
    """One real frontend (building it loads dictionaries: about a second)."""
    from frontend_svc import Frontend

    return Frontend()


@pytest.fixture
def executor():
    executor = BoundedExecutor(1, 4)
    yield executor
    executor.close(wait=False)


async def _stub(
    start_server: StartServer, frontend: Any, executor: BoundedExecutor, chars: int
) -> pb_grpc.FrontendServiceStub:
    servicer = FrontendServicer(
        [frontend], executor, revision="rev", max_text_chars=chars
    )
    return pb_grpc.FrontendServiceStub(await start_server(servicer.register))


def _entity_bomb() -> str:
    """About 350 characters that expand to 200,000 through nested entities."""
    decls = ['<!ENTITY a "你好你好你好你好你好你好你好你好你好你好">'] + [
        f'<!ENTITY {n} "{f"&{p};" * 10}">' for p, n in zip("abcd", "bcde", strict=True)
    ]
    body = "&e;&e;"
    return (
        f'<?xml version="1.0"?><!DOCTYPE speak [{"".join(decls)}]><speak>{body}</speak>'
    )


async def test_an_entity_bomb_is_refused_at_once(
    start_server: StartServer, frontend: Any, executor: BoundedExecutor
) -> None:
    """A document type is refused before any entity expands (it used to keep the
    worker busy for minutes)."""
    stub = await _stub(start_server, frontend, executor, 5000)
    text = _entity_bomb()
    assert len(text) < 400
    started = time.perf_counter()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Analyze(pb.AnalyzeRequest(text=text, ssml=True), timeout=TIMEOUT_S)
    assert time.perf_counter() - started < 1.0
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must not contain a <!DOCTYPE>" in info.value.details()
    plain = "<speak>&amp; &#x4e2d;文</speak>"  # predefined and character references
    reply = await stub.Analyze(pb.AnalyzeRequest(text=plain, ssml=True))
    assert reply.sentences


async def test_the_limit_applies_to_the_text_as_read_out(
    start_server: StartServer, frontend: Any, executor: BoundedExecutor
) -> None:
    """20 characters of "≥1" read out as 50 ("大于等于一" x 10): over twice the
    limit of 20, so refused; ordinary text of the same length passes."""
    stub = await _stub(start_server, frontend, executor, 20)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Analyze(pb.AnalyzeRequest(text="≥1" * 10), timeout=TIMEOUT_S)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "expands to more than 40 characters when read out" in info.value.details()
    reply = await stub.Analyze(pb.AnalyzeRequest(text="一二三四五六七八九十" * 2))
    assert reply.sentences


@pytest.fixture
def slow_frontend(frontend: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The frontend, each sentence made to take ``SENTENCE_S`` longer."""
    sentence = frontend._sentence

    def slow(*args: Any) -> Any:
        time.sleep(SENTENCE_S)
        return sentence(*args)

    monkeypatch.setattr(frontend, "_sentence", slow)
    return frontend


async def _freed(executor: BoundedExecutor) -> float:
    """Seconds until the executor's worker is free again."""
    started = time.perf_counter()
    while executor.in_flight:
        assert time.perf_counter() - started < 5, "the analysis went on"
        await asyncio.sleep(0.02)
    return time.perf_counter() - started


async def test_a_passed_deadline_stops_the_analysis(
    start_server: StartServer, slow_frontend: Any, executor: BoundedExecutor
) -> None:
    """The caller gives up after 0.5 s of a ~7 s analysis: the worker stops at the
    next sentence, so the stage is free again at once, not 6 s later."""
    stub = await _stub(start_server, slow_frontend, executor, 5000)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.Analyze(pb.AnalyzeRequest(text=PARAGRAPH), timeout=0.5)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert await _freed(executor) < 0.5


async def test_a_caller_that_leaves_stops_the_analysis(
    start_server: StartServer, slow_frontend: Any, executor: BoundedExecutor
) -> None:
    """The same when the caller cancels (no deadline at all)."""
    stub = await _stub(start_server, slow_frontend, executor, 5000)
    call = stub.Analyze(pb.AnalyzeRequest(text=PARAGRAPH))
    await asyncio.sleep(0.5)
    assert executor.in_flight == 1
    call.cancel()
    assert await _freed(executor) < 0.5
    reply = await stub.Analyze(pb.AnalyzeRequest(text="你好。"), timeout=TIMEOUT_S)
    assert reply.sentences  # the worker takes new work
