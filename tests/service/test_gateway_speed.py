"""Request speed times SSML <prosody rate>: one rule, checked before any audio.

The gateway runs in front of the real frontend (so the SSML is really parsed) and
the fake acoustic and vocoder stages (so no sentence synthesized goes unnoticed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from frontend_svc.servicer import FrontendServicer
from sambert_tts_protos.v1 import frontend_service_pb2_grpc as fe_grpc
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service.fake_stages import FakeStages, start_stage
from tts_common.executor import BoundedExecutor

TIMEOUT_S = 10.0
TWO_SENTENCES = '<speak>第一句。<prosody rate="{rate}">第二句。</prosody></speak>'


@pytest.fixture(scope="module")
def frontend() -> Any:
    """One real frontend (building it loads dictionaries: about a second)."""
    from frontend_svc import Frontend

    return Frontend()


@pytest.fixture
def executor() -> Iterator[BoundedExecutor]:
    executor = BoundedExecutor(1, 4)
    yield executor
    executor.close()


@pytest.fixture
async def gateway(start_gateway, fake_stages: FakeStages, frontend, executor) -> Any:
    """A gateway whose frontend is the real one (stopped with the fake stages)."""
    servicer = FrontendServicer(
        [frontend], executor, revision="fe-real", max_text_chars=5000
    )
    stage = await start_stage(
        servicer, fe_grpc.add_FrontendServiceServicer_to_server,
        "tts.v1.FrontendService",
    )  # fmt: skip
    fake_stages.servers.append(stage)
    return await start_gateway(frontend_addrs=(stage.addr,))


async def _refusals(stub: Any, **fields: Any) -> list[grpc.aio.AioRpcError]:
    """The errors of a unary and a streaming call; the stream must send nothing."""
    with pytest.raises(grpc.aio.AioRpcError) as unary:
        await stub.Synthesize(gw.SynthesizeRequest(**fields), timeout=TIMEOUT_S)
    call = stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(**fields), timeout=TIMEOUT_S
    )
    received: list[gw.StreamSynthesizeResponse] = []
    with pytest.raises(grpc.aio.AioRpcError) as stream:
        await _read_into(call, received)
    assert received == [], "not even the header may be sent"
    return [unary.value, stream.value]


async def _read_into(call: Any, received: list[gw.StreamSynthesizeResponse]) -> None:
    async for message in call:
        received.append(message)


async def test_combined_speed_out_of_range_is_refused_before_any_audio(
    gateway, fake_stages: FakeStages
) -> None:
    """Speed 2.0 is fine for sentence 1 but x-fast makes sentence 2 3.0: the request
    is refused after the analysis, before sentence 1 reaches the acoustic stage."""
    text = TWO_SENTENCES.format(rate="x-fast")
    for error in await _refusals(gateway.stub, text=text, ssml=True, speed=2.0):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == (
            "speed 2 times SSML <prosody rate> 1.5 in sentence 2 is 3, outside "
            "0.5 to 2.0; lower the speed or the rate"
        )
    assert fake_stages.acoustic.seen.calls == 0
    assert fake_stages.vocoder.seen.calls == 0


async def test_zero_rate_is_refused_by_the_frontend(
    gateway, fake_stages: FakeStages
) -> None:
    """rate="0%" no longer becomes normal speed: the frontend's INVALID_ARGUMENT
    passes through, and nothing is synthesized."""
    text = TWO_SENTENCES.format(rate="0%")
    for error in await _refusals(gateway.stub, text=text, ssml=True):
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "prosody rate='0%' is not a positive rate" in error.details()
    assert fake_stages.acoustic.seen.calls == 0


async def test_combined_speed_within_range_reaches_the_acoustic_stage(
    gateway, fake_stages: FakeStages
) -> None:
    """1.6 x fast (1.25) is 2.0, the top of the range: accepted, and each sentence
    is sent at its own product (float32 on the wire)."""
    text = TWO_SENTENCES.format(rate="fast")
    reply = await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text=text, ssml=True, speed=1.6), timeout=TIMEOUT_S
    )
    assert len(reply.sentences) == 2 and reply.num_samples > 0
    speeds = [round(r.speed, 5) for r in fake_stages.acoustic.requests]
    assert speeds == [1.6, 2.0]
