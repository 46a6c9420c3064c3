"""BoundedExecutor admission by deadline: service-time EWMA, wait estimate, refusal."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from tts_common.errors import RETRY_AFTER_MS_HEADER, DeadlineExceeded, Overloaded
from tts_common.executor import SERVICE_TIME_WEIGHT, BoundedExecutor

_WAIT_S = 5.0


@pytest.fixture
def executor() -> Iterator[BoundedExecutor]:
    """One worker and four queue slots."""
    pool = BoundedExecutor(max_workers=1, max_queue=4)
    yield pool
    pool.close(wait=True)


async def _until_started(gate_started: threading.Event) -> None:
    assert await asyncio.to_thread(gate_started.wait, _WAIT_S)


async def test_no_measure_no_refusal(executor: BoundedExecutor) -> None:
    """Before any job has ended there is no estimate: everything is admitted."""
    assert executor.service_time_s is None
    assert executor.estimated_wait_s() == 0.0
    executor.admit(0.0)
    executor.admit(None)
    assert await executor.submit_within(_WAIT_S, lambda: 7) == 7


async def test_service_time_is_an_ewma(executor: BoundedExecutor) -> None:
    """The first job sets the service time; later ones move it by the weight."""
    await executor.submit(time.sleep, 0.1)
    first = executor.service_time_s
    assert first is not None and first >= 0.1
    await executor.submit(lambda: None)
    second = executor.service_time_s
    assert second is not None
    assert second == pytest.approx(first * (1 - SERVICE_TIME_WEIGHT), rel=0.05)


async def test_wait_counts_running_and_queued(executor: BoundedExecutor) -> None:
    """Busy worker plus two queued jobs: at least two service times of wait; the
    refusal names the wait and the deadline and carries ``retry-after-ms``."""
    await executor.submit(time.sleep, 0.1)  # seed: service time ~0.1 s
    service = executor.service_time_s
    assert service is not None
    assert executor.estimated_wait_s() == 0.0  # a worker is free
    gate, started = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        gate.wait(_WAIT_S)

    jobs = [asyncio.ensure_future(executor.submit(block))]
    await _until_started(started)
    jobs += [asyncio.ensure_future(executor.submit(lambda: None)) for _ in range(2)]
    await asyncio.sleep(0)  # let the submissions reach the pool
    try:
        assert executor.queue_depth == 2
        wait = executor.estimated_wait_s()
        assert 2 * service <= wait <= 3 * service
        executor.admit(None)  # no deadline: always admitted
        executor.admit(wait + service + 10.0)
        with pytest.raises(Overloaded) as refused:
            executor.admit(wait)  # the wait alone uses it up: no room for the job
        err = refused.value
        assert "estimated wait" in err.message and "deadline" in err.message
        assert err.retry_after_ms is not None and err.retry_after_ms >= 1
        assert err.trailing_metadata == (
            (RETRY_AFTER_MS_HEADER, str(err.retry_after_ms)),
        )
        ran: list[int] = []
        with pytest.raises(Overloaded):
            await executor.submit_within(service, ran.append, 1)
        assert ran == [] and executor.in_flight == 3  # refused before queueing
    finally:
        gate.set()
        await asyncio.gather(*jobs)


async def test_queued_job_past_its_deadline_is_dropped(
    executor: BoundedExecutor,
) -> None:
    """A job whose deadline passes while it waits never runs."""
    gate, started = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        gate.wait(_WAIT_S)

    blocker = asyncio.ensure_future(executor.submit(block))
    await _until_started(started)
    ran: list[int] = []
    # No service time yet (the blocker has not ended): admitted, then queued.
    late = asyncio.ensure_future(executor.submit_within(0.05, ran.append, 1))
    await asyncio.sleep(0.15)
    gate.set()
    with pytest.raises(DeadlineExceeded):
        await late
    await blocker
    assert ran == []
    assert executor.in_flight == 0
