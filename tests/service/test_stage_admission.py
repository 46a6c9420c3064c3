"""Admission by deadline in a stage: a request the queue cannot finish in time is
refused at once (RESOURCE_EXHAUSTED, ``retry-after-ms``) without reaching the model."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any, cast

import grpc
import pytest

from acoustic_svc.batcher import build_batchers as build_decode_batchers
from acoustic_svc.servicer import AcousticServicer
from frontend_svc.servicer import FrontendServicer
from sambert_tts_protos.v1 import acoustic_service_pb2 as am_pb
from sambert_tts_protos.v1 import acoustic_service_pb2_grpc as am_grpc
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import frontend_service_pb2 as pb
from sambert_tts_protos.v1 import frontend_service_pb2_grpc as pb_grpc
from sambert_tts_protos.v1 import vocoder_service_pb2 as voc_pb
from sambert_tts_protos.v1 import vocoder_service_pb2_grpc as voc_grpc
from tests.golden import golden_cases
from tests.service.conftest import StartServer
from tts_common.audio import encode_mel
from tts_common.executor import BoundedExecutor
from vocoder_svc.batcher import build_batchers
from vocoder_svc.servicer import VocoderServicer

_SLOW_S = 0.5
_WAIT_S = 10.0


class _SlowFrontend:
    """The real frontend behind a fixed delay; texts starting 等 wait for ``gate``."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.texts: list[str] = []
        self.gate = threading.Event()

    def analyze(self, text: str, *args: Any, **kwargs: Any) -> Sequence[Any]:
        self.texts.append(text)
        if text.startswith("等"):
            self.gate.wait(_WAIT_S)
        else:
            time.sleep(_SLOW_S)
        return self.real.analyze(text, *args, **kwargs)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def real_frontend() -> Any:
    from frontend_svc import Frontend

    return Frontend()


async def _until(predicate: Any) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_refused_at_once_when_the_queue_outlasts_the_deadline(
    start_server: StartServer, real_frontend: Any
) -> None:
    slow = _SlowFrontend(real_frontend)
    executor = BoundedExecutor(1, 4)
    servicer = FrontendServicer([slow], executor, revision="rev-1", max_text_chars=5000)
    await servicer.warm_up()  # seeds the service time: ~_SLOW_S
    assert (executor.service_time_s or 0.0) >= _SLOW_S
    stub = pb_grpc.FrontendServiceStub(await start_server(servicer.register))

    # One request running (held), one queued behind it: the next waits >= 1 job.
    held = [
        asyncio.ensure_future(stub.Analyze(pb.AnalyzeRequest(text=t), timeout=_WAIT_S))
        for t in ("等一下。", "等两下。")
    ]
    await _until(
        lambda: (
            executor.in_flight == 2 and sum(t.startswith("等") for t in slow.texts) == 1
        )
    )
    try:
        # Estimated wait (>= 1 service time) + its own service time > 0.8 s.
        call = stub.Analyze(pb.AnalyzeRequest(text="今天很好。"), timeout=0.8)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        err = refused.value
        assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "estimated wait" in (err.details() or "")
        assert "deadline" in (err.details() or "")
        trailing = dict(err.trailing_metadata() or ())
        assert int(trailing["retry-after-ms"]) >= 1
        assert trailing.get("x-request-id")
        assert "今天很好。" not in slow.texts  # never reached the model
        assert executor.in_flight == 2  # and was never queued
    finally:
        slow.gate.set()
    for response in await asyncio.gather(*held):
        assert response.sentences  # the admitted requests still run
    # With the queue drained and enough deadline, the same request runs.
    ok = await stub.Analyze(pb.AnalyzeRequest(text="今天很好。"), timeout=_WAIT_S)
    assert ok.sentences
    assert "今天很好。" in slow.texts


def _assert_refused(err: grpc.aio.AioRpcError) -> None:
    """RESOURCE_EXHAUSTED by deadline admission, with a retry hint and request id."""
    assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "estimated wait" in (err.details() or "")
    assert "deadline" in (err.details() or "")
    trailing = dict(err.trailing_metadata() or ())
    assert int(trailing["retry-after-ms"]) >= 1
    assert trailing.get("x-request-id")


async def _hold(executor: BoundedExecutor, gate: threading.Event) -> list[Any]:
    """Seed the service time at ~_SLOW_S (a slow job), then hold the executor with
    one job running and one queued behind it until ``gate`` is set."""
    await executor.submit(time.sleep, _SLOW_S)
    assert (executor.service_time_s or 0.0) >= _SLOW_S
    held = [asyncio.ensure_future(executor.submit(gate.wait, _WAIT_S)) for _ in "ab"]
    await _until(lambda: executor.in_flight == 2 and executor.queue_depth == 1)
    return held


class _RecordingAcoustic:
    """A real acoustic model that records the symbols of every stream it starts."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.streamed: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def stream_mel(self, symbols: str, *args: Any, **kwargs: Any) -> Any:
        self.streamed.append(symbols)
        return self.real.stream_mel(symbols, *args, **kwargs)


async def test_acoustic_refuses_a_stream_the_queue_cannot_start_in_time(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    model = _RecordingAcoustic(acoustic_models["small_causal"])
    executor = BoundedExecutor(1, 4)
    batchers = build_decode_batchers({model.voice: cast(Any, model)}, executor)
    servicer = AcousticServicer(batchers, executor)
    stub = am_grpc.AcousticServiceStub(await start_server(servicer.register))
    symbols = golden_cases("small_causal")[0].meta["symbols"]
    request = am_pb.StreamMelRequest(symbols=symbols, chunk_steps=4)
    gate = threading.Event()
    held = await _hold(executor, gate)
    try:
        # Estimated wait (>= 1 service time) + its own service time > 0.8 s.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            [r async for r in stub.StreamMel(request, timeout=0.8)]
        _assert_refused(refused.value)
        assert model.streamed == []  # never reached the model
        assert executor.in_flight == 2  # and was never queued
    finally:
        gate.set()
    await asyncio.gather(*held)
    # With the queue drained and enough deadline, the same stream runs to its end.
    responses = [r async for r in stub.StreamMel(request, timeout=_WAIT_S)]
    assert responses[0].WhichOneof("content") == "header"
    assert responses[-1].chunk.last and len(responses) > 2
    assert model.streamed == [symbols]


@pytest.mark.usefixtures("one_torch_thread")
async def test_vocoder_refuses_a_stream_before_its_header(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    voc = vocoders["small_noncausal"]
    executor = BoundedExecutor(1, 4)
    servicer = VocoderServicer(build_batchers({"v": voc}, executor), executor)
    stub = voc_grpc.VocoderServiceStub(await start_server(servicer.register))
    mel = golden_cases("small_noncausal")[0].arrays["mel"]
    header = audio_pb2.MelHeader(
        voice="v", num_mels=voc.num_mels, hop_length=voc.hop_length,
        sample_rate_hz=voc.sample_rate,
    )  # fmt: skip
    config = voc_pb.VocodeConfig(
        mel_header=header, pcm_format=audio_pb2.PCM_FORMAT_F32LE
    )
    chunk = audio_pb2.MelChunk(mel=encode_mel(mel), chunk_index=0, last=True)
    messages = [
        voc_pb.StreamVocodeRequest(config=config),
        voc_pb.StreamVocodeRequest(mel=chunk),
    ]
    batches = servicer.batchers["v"].batch_sizes
    gate = threading.Event()
    held = await _hold(executor, gate)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            [r async for r in stub.StreamVocode(iter(messages), timeout=0.8)]
        _assert_refused(refused.value)
        assert not batches  # no chunk of it was ever vocoded
        assert executor.in_flight == 2  # nor queued
    finally:
        gate.set()
    await asyncio.gather(*held)
    responses = [r async for r in stub.StreamVocode(iter(messages), timeout=_WAIT_S)]
    assert responses[0].WhichOneof("content") == "header"
    assert responses[-1].audio.last
    assert sum(r.audio.num_samples for r in responses[1:]) == len(mel) * voc.hop_length
    assert sum(batches.values()) >= 1


@pytest.mark.usefixtures("one_torch_thread")
async def test_vocoder_counts_steps_pending_in_its_batcher(
    start_server: StartServer, vocoders: dict[str, Any]
) -> None:
    """Steps waiting in the batcher are batches ahead of a new stream, though the
    executor has not seen them yet: with the executor held and 4 batches
    pending, a stream whose deadline covers the executor's queue and one batch, but
    not those 4, is refused."""
    voc = vocoders["small_noncausal"]
    executor = BoundedExecutor(1, 4)
    batchers = build_batchers({"v": voc}, executor, max_batch=4)
    servicer = VocoderServicer(batchers, executor)
    batcher = servicer.batchers["v"]
    stub = voc_grpc.VocoderServiceStub(await start_server(servicer.register))
    mel = golden_cases("small_noncausal")[0].arrays["mel"]
    gate = threading.Event()
    held = await _hold(executor, gate)
    windows = [
        asyncio.ensure_future(batcher.vocode(batcher.open_stream(), mel[:8], end=True))
        for _ in range(20)
    ]
    # One batch of 4 goes to the executor's queue; 16 steps stay pending.
    await _until(lambda: batcher.queued_batches == 4 and executor.in_flight == 3)
    header = audio_pb2.MelHeader(
        voice="v", num_mels=voc.num_mels, hop_length=voc.hop_length,
        sample_rate_hz=voc.sample_rate,
    )  # fmt: skip
    config = voc_pb.VocodeConfig(mel_header=header)
    try:
        # Service ~0.5 s: the executor's wait (<= 1.5 s) plus one batch fits 3 s;
        # with the 4 pending batches (2 s more) it does not.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            [r async for r in stub.StreamVocode(
                iter([voc_pb.StreamVocodeRequest(config=config)]), timeout=3.0
            )]  # fmt: skip
        _assert_refused(refused.value)
    finally:
        gate.set()
    await asyncio.gather(*held, *windows)
