"""Gateway failure semantics: replicas and retries, deadlines, cancellation."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest

from gateway.stages import (
    Deadline,
    ReplicaSet,
    RetryPolicy,
    StageError,
    call_with_retry,
)
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service.fake_stages import dead_addr
from tests.service.runtime_helpers import read_rest

TIMEOUT_S = 10.0
TEXT = "你好世界。今天天气很好。"


async def _wait(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), TIMEOUT_S)
    except TimeoutError:
        raise AssertionError(f"{what} never happened") from None


async def _until(condition, what: str) -> None:
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what} never happened")


async def _read_into(call, received: list[gw.StreamSynthesizeResponse]) -> None:
    """Append a stream's messages to ``received`` until it ends or fails."""
    while (message := await call.read()) is not grpc.aio.EOF:
        received.append(message)


async def test_stage_down_is_unavailable_after_trying_each_replica(
    start_gateway, fake_stages
) -> None:
    """With every acoustic replica down the caller gets UNAVAILABLE naming each one."""
    dead = dead_addr()
    live = fake_stages.addrs[1]
    gateway = await start_gateway(acoustic_addrs=(dead, live), retries=1)
    await fake_stages.servers[1].server.stop(None)  # the live one goes down too

    async def synthesize() -> None:
        await gateway.stub.Synthesize(
            gw.SynthesizeRequest(text=TEXT), timeout=TIMEOUT_S
        )

    async def stream_synthesize() -> None:
        call = gateway.stub.StreamSynthesize(
            gw.StreamSynthesizeRequest(text=TEXT), timeout=TIMEOUT_S
        )
        await read_rest(call)

    for method in (synthesize, stream_synthesize):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await method()
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        details = error.value.details()
        assert "acoustic stage is unavailable" in details and "retry later" in details
        assert dead in details and live in details


async def test_retry_on_another_replica_succeeds(
    start_gateway, fake_stages, caplog
) -> None:
    """A dead replica in every stage's list costs a retry, never the request; the
    audio is exactly what a healthy stack makes, with no sentence made twice."""
    caplog.set_level(logging.WARNING, logger="gateway")
    fe, am, voc = fake_stages.addrs
    dead = dead_addr()
    healthy = await start_gateway()
    expected = await healthy.stub.Synthesize(
        gw.SynthesizeRequest(text=TEXT), timeout=TIMEOUT_S
    )
    calls_before = fake_stages.acoustic.seen.calls
    gateway = await start_gateway(
        frontend_addrs=(dead, fe), acoustic_addrs=(dead, am), vocoder_addrs=(dead, voc),
        retries=1,
    )  # fmt: skip
    for _ in range(2):  # round robin: each request starts on a different replica
        reply = await gateway.stub.Synthesize(
            gw.SynthesizeRequest(text=TEXT), timeout=TIMEOUT_S
        )
        assert reply.audio == expected.audio
    assert (
        fake_stages.acoustic.seen.calls - calls_before == 4
    )  # 2 requests x 2 sentences
    for stage in ("frontend", "acoustic", "vocoder"):
        assert f"{stage} replica {dead} unavailable" in caplog.text


async def test_downstream_status_passes_through_without_retry(
    start_gateway, fake_stages
) -> None:
    """A stage's non-UNAVAILABLE status reaches the caller unchanged and is not
    retried, even mid-stream after audio was sent."""
    fake_stages.acoustic.failures["天气"] = grpc.StatusCode.RESOURCE_EXHAUSTED
    gate = fake_stages.acoustic.gates["天气"] = asyncio.Event()
    gateway = await start_gateway(retries=3)
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=TEXT), timeout=TIMEOUT_S
    )
    await _until(lambda: fake_stages.vocoder.seen.calls == 2, "sentence 1 vocoding")
    gate.set()  # sentence 1's acoustic stream now fails, after one chunk went on
    received: list[gw.StreamSynthesizeResponse] = []
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await _read_into(call, received)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "acoustic stage: fake acoustic failure" in error.value.details()
    assert any(
        m.chunk.sentence_index == 0 and m.chunk.last_in_sentence for m in received
    )
    assert fake_stages.acoustic.seen.started.count("今天天气很好") == 1
    await _wait(
        fake_stages.vocoder.seen.cancelled,
        "vocoder stream of the failed sentence cancelled",
    )


async def test_short_deadline_is_deadline_exceeded_and_propagates(
    start_gateway, fake_stages
) -> None:
    """The caller's deadline bounds each downstream call; when it passes the caller
    gets DEADLINE_EXCEEDED and the blocked stage stream is ended."""
    fake_stages.acoustic.gates["你好"] = asyncio.Event()  # never set
    gateway = await start_gateway()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.stub.Synthesize(gw.SynthesizeRequest(text=TEXT), timeout=0.5)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The stages got the caller's remaining time (gRPC rounds timeouts up a little
    # on the wire), not the gateway's 300 s default.
    for seen in (fake_stages.frontend.seen, fake_stages.acoustic.seen):
        assert all(r is not None and 0 < r <= 0.51 for r in seen.time_remaining)
    await _wait(
        fake_stages.acoustic.seen.cancelled, "acoustic stream ended at the deadline"
    )


async def test_callers_without_a_deadline_get_the_default(
    start_gateway, fake_stages
) -> None:
    """No downstream call runs unbounded: a caller with no deadline gets the
    configured default, which the stages see."""
    gateway = await start_gateway(default_deadline_s=42.0)
    await gateway.stub.Synthesize(gw.SynthesizeRequest(text="你好。"))
    remaining = fake_stages.acoustic.seen.time_remaining
    assert len(remaining) == 1 and remaining[0] is not None
    assert 40.0 < remaining[0] <= 42.5


def _unavailable() -> grpc.aio.AioRpcError:
    empty = grpc.aio.Metadata()
    return grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, empty, empty, "refused")


async def test_retry_rotates_replicas_and_stays_inside_the_deadline() -> None:
    """UNAVAILABLE moves to the next replica; the retries stop (UNAVAILABLE) rather
    than sleep past the deadline; with no time left at all the gateway itself
    answers DEADLINE_EXCEEDED."""
    replicas = ReplicaSet("acoustic", ["a:1", "b:1", "c:1"], 1 << 20)
    tried: list[int] = []

    async def attempt(channel: grpc.aio.Channel, timeout: float) -> str:
        tried.append(replicas.channels.index(channel))
        raise _unavailable()

    try:
        with pytest.raises(StageError) as error:
            await call_with_retry(
                replicas, RetryPolicy(2, 0.001, 0.001), Deadline(5), attempt
            )
        assert (error.value.status, tried) == ("UNAVAILABLE", [0, 1, 2])
        assert "a:1, b:1, c:1" in error.value.message
        tried.clear()
        with pytest.raises(StageError) as error:  # 10 s backoff, 0.5 s deadline
            await call_with_retry(
                replicas, RetryPolicy(5, 10.0, 10.0), Deadline(0.5), attempt
            )
        assert error.value.status == "UNAVAILABLE" and len(tried) == 1
        with pytest.raises(StageError) as error:
            await call_with_retry(
                replicas, RetryPolicy(2, 0.0, 0.0), Deadline(0), attempt
            )
        assert error.value.status == "DEADLINE_EXCEEDED"
        assert "set a longer deadline" in error.value.message
    finally:
        await replicas.close()


async def test_client_cancel_cancels_downstream_streams(
    start_gateway, fake_stages
) -> None:
    """Cancelling mid-stream ends the acoustic and vocoder streams still running."""
    fake_stages.acoustic.gates["天气"] = (
        asyncio.Event()
    )  # sentence 1 blocks after 1 chunk
    gateway = await start_gateway(sentences_in_flight=2)
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=TEXT), timeout=TIMEOUT_S
    )
    await call.read()  # header
    first = await call.read()
    assert first.chunk.sentence_index == 0
    await _until(
        lambda: fake_stages.vocoder.seen.calls == 2, "both vocoder streams open"
    )
    call.cancel()
    await _wait(fake_stages.acoustic.seen.cancelled, "acoustic stream cancelled")
    await _wait(fake_stages.vocoder.seen.cancelled, "vocoder stream cancelled")


async def test_unary_client_cancel_cancels_downstream(
    start_gateway, fake_stages
) -> None:
    """A unary caller that goes away also stops the stages' work."""
    fake_stages.acoustic.gates["你好"] = asyncio.Event()
    gateway = await start_gateway()
    call = gateway.stub.Synthesize(gw.SynthesizeRequest(text=TEXT), timeout=TIMEOUT_S)
    # Both sentences' vocoder streams open; sentence 0's waits for more mel.
    await _until(
        lambda: fake_stages.vocoder.seen.calls == 2, "both vocoder streams open"
    )
    call.cancel()
    await _wait(fake_stages.acoustic.seen.cancelled, "acoustic stream cancelled")
    await _wait(fake_stages.vocoder.seen.cancelled, "vocoder stream cancelled")
