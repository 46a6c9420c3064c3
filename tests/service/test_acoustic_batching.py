"""AcousticService with cross-request batching: concurrent streams on the golden voices
share decoder jobs, and each still gets its own unbatched mel, cancel and admission."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import grpc
import numpy as np
import pytest

from acoustic_svc.batcher import DecodeBatcher, build_batchers
from acoustic_svc.config import AcousticConfig
from acoustic_svc.servicer import AcousticServicer
from sambert_tts_protos.v1 import acoustic_service_pb2 as pb
from sambert_tts_protos.v1 import acoustic_service_pb2_grpc as pb_grpc
from tests.golden import golden_cases
from tests.service.conftest import StartServer
from tts_common.audio import decode_mel
from tts_common.config import ConfigError
from tts_common.executor import BoundedExecutor

_WAIT_S = 30.0
# (case, speed, chunk_steps): different lengths, band widths and chunk sizes.
_SENTENCES = [
    (5, 1.0, 1),
    (1, 0.5, 4),
    (0, 2.0, 2),
    (3, 1.0, 3),
    (2, 0.8, 4),
    (4, 1.3, 7),
]


class _Recording:
    """A real model that keeps the streams it makes and the streams of every job."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.streams: list[Any] = []
        self.jobs: list[list[Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def stream_mel(self, symbols: str, **kwargs: Any) -> Any:
        stream = self.real.stream_mel(symbols, **kwargs)
        self.streams.append(stream)
        return stream

    def next_chunks(self, streams: Sequence[Any]) -> list[np.ndarray | None]:
        self.jobs.append(list(streams))
        return self.real.next_chunks(streams)  # type: ignore[no-any-return]


async def _serve(
    start_server: StartServer, model: Any, **kwargs: Any
) -> tuple[pb_grpc.AcousticServiceStub, DecodeBatcher, BoundedExecutor]:
    executor = BoundedExecutor(max_workers=1, max_queue=8)
    batchers = build_batchers({model.voice: model}, executor, **kwargs)
    servicer = AcousticServicer(batchers, executor)
    channel = await start_server(servicer.register)
    return pb_grpc.AcousticServiceStub(channel), batchers[model.voice], executor


def _request(case: int, speed: float, chunk_steps: int) -> pb.StreamMelRequest:
    symbols = golden_cases("small_causal")[case].meta["symbols"]
    return pb.StreamMelRequest(symbols=symbols, speed=speed, chunk_steps=chunk_steps)


async def _until(predicate: Any) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


@pytest.mark.usefixtures("one_torch_thread")
async def test_streams_joining_at_different_times_get_their_unbatched_mel(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    """Each stream starts once the one before has two chunks: they join running
    batches mid-way and leave as they end; every mel equals the unbatched mel."""
    model = _Recording(acoustic_models["small_causal"])
    stub, batcher, _ = await _serve(start_server, model)
    started = [asyncio.Event() for _ in _SENTENCES]

    async def one(i: int) -> np.ndarray:
        if i:
            await started[i - 1].wait()
        mels = []
        async for r in stub.StreamMel(_request(*_SENTENCES[i]), timeout=_WAIT_S):
            if r.WhichOneof("content") == "chunk":
                mels.append(decode_mel(r.chunk.mel, 80))
                if len(mels) == 2:
                    started[i].set()
        assert r.chunk.last
        return np.concatenate(mels)

    got = await asyncio.gather(*(one(i) for i in range(len(_SENTENCES))))
    for mel, (case, speed, _) in zip(got, _SENTENCES, strict=True):
        symbols = golden_cases("small_causal")[case].meta["symbols"]
        want = model.real.mel(symbols, speed=speed)
        np.testing.assert_allclose(mel, want, rtol=0, atol=1e-5)
    assert max(batcher.batch_sizes) >= 3, batcher.batch_sizes
    assert max(len(job) for job in model.jobs) >= 3


@pytest.mark.usefixtures("one_torch_thread")
async def test_a_cancelled_stream_stops_and_leaves_the_batch(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    """The leaver's sentence stops within the round running when it left; the
    others are not waited for it and still get their own mel."""
    model = _Recording(acoustic_models["small_causal"])
    stub, batcher, _ = await _serve(start_server, model, max_wait_s=_WAIT_S)
    leaver = stub.StreamMel(_request(5, 1.0, 1), timeout=_WAIT_S)
    for _ in range(3):  # header, chunk 0, chunk 1
        await leaver.read()
    others = [
        asyncio.ensure_future(_read_mel(stub, _request(5, s, 2))) for s in (1.0, 0.5)
    ]
    await _until(lambda: len(model.streams) == 3 and len(model.jobs) >= 4)
    gone = model.streams[0].sentence.state
    leaver.cancel()
    await _until(lambda: model.streams[0].done)
    step_at_cancel = gone.step
    mels = await asyncio.gather(*others)
    assert gone.step <= step_at_cancel + 1 < gone.n_steps
    symbols = golden_cases("small_causal")[5].meta["symbols"]
    for mel, speed in zip(mels, (1.0, 0.5), strict=True):
        want = model.real.mel(symbols, speed=speed)
        np.testing.assert_allclose(mel, want, rtol=0, atol=1e-5)
    assert batcher.pending == 0


async def _read_mel(stub: pb_grpc.AcousticServiceStub, request: Any) -> np.ndarray:
    mels = [
        decode_mel(r.chunk.mel, 80)
        async for r in stub.StreamMel(request, timeout=_WAIT_S)
        if r.WhichOneof("content") == "chunk"
    ]
    return np.concatenate(mels)


async def test_requests_pending_in_the_batcher_count_for_admission(
    start_server: StartServer, acoustic_models: dict[str, Any]
) -> None:
    """Pending chunk requests are batches ahead of a new stream that the executor
    has not seen yet: with the executor held and 4 batches pending, a stream whose
    deadline covers the executor's queue and one job, but not those 4, is refused."""
    model = acoustic_models["small_causal"]
    stub, batcher, executor = await _serve(start_server, model, max_batch=2)
    symbols = golden_cases("small_causal")[0].meta["symbols"]
    streams = [model.stream_mel(symbols) for _ in range(9)]
    gate = threading.Event()
    await executor.submit(time.sleep, 0.5)  # service time ~0.5 s
    held = [asyncio.ensure_future(executor.submit(gate.wait, _WAIT_S)) for _ in "ab"]
    await _until(lambda: executor.in_flight == 2 and executor.queue_depth == 1)
    chunks = [asyncio.ensure_future(batcher.next_chunk(s)) for s in streams]
    # One batch of 2 goes to the executor's queue; 7 requests (4 batches) wait.
    await _until(lambda: batcher.queued_batches == 4 and executor.in_flight == 3)
    try:
        # Executor wait (<= 1.5 s) plus one job fits 3 s; with 4 batches more, not.
        request = pb.StreamMelRequest(symbols=symbols)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            [r async for r in stub.StreamMel(request, timeout=3.0)]
        err = refused.value
        assert err.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "estimated wait" in (err.details() or "")
    finally:
        gate.set()
    await asyncio.gather(*held, *chunks)


def test_batching_settings_from_env() -> None:
    """ACOUSTIC_MAX_BATCH and ACOUSTIC_BATCH_WAIT_MS: defaults, parsing, limits."""
    base = {"ACOUSTIC_MODEL_DIR": "/m"}
    cfg = AcousticConfig.from_env(base)
    assert (cfg.max_batch, cfg.batch_wait_ms) == (8, 2.0)
    cfg = AcousticConfig.from_env(
        base | {"ACOUSTIC_MAX_BATCH": "1", "ACOUSTIC_BATCH_WAIT_MS": "0.5"}
    )
    assert (cfg.max_batch, cfg.batch_wait_s) == (1, 0.0005)
    with pytest.raises(ConfigError, match="ACOUSTIC_MAX_BATCH"):
        AcousticConfig.from_env(base | {"ACOUSTIC_MAX_BATCH": "0"})
    with pytest.raises(ConfigError, match="ACOUSTIC_BATCH_WAIT_MS"):
        AcousticConfig.from_env(base | {"ACOUSTIC_BATCH_WAIT_MS": "-1"})
