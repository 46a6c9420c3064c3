"""Admission by deadline in a stage: a request the queue cannot finish in time is
refused at once (RESOURCE_EXHAUSTED, ``retry-after-ms``) without reaching the model."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import grpc
import pytest

from frontend_svc.servicer import FrontendServicer
from sambert_tts_protos.v1 import frontend_service_pb2 as pb
from sambert_tts_protos.v1 import frontend_service_pb2_grpc as pb_grpc
from tests.service.conftest import StartServer
from tts_common.executor import BoundedExecutor

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
