"""BoundedExecutor: runs off the event loop, refuses at capacity, counts honestly."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tts_common.errors import Overloaded
from tts_common.executor import BoundedExecutor
from tts_common.logging import REQUEST_ID

_WAIT_S = 5.0


@pytest.fixture
def executor() -> Iterator[BoundedExecutor]:
    """One worker and one queue slot: capacity 2."""
    pool = BoundedExecutor(max_workers=1, max_queue=1)
    yield pool
    pool.close(wait=True)


async def _until(predicate: Callable[[], bool], timeout_s: float = _WAIT_S) -> None:
    """Poll ``predicate()`` on the loop until true."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_runs_in_a_worker_thread(executor: BoundedExecutor) -> None:
    """The function runs outside the loop's thread and its result comes back."""
    result = await executor.submit(lambda a, b: (threading.get_ident(), a + b), 2, 3)
    assert result[1] == 5
    assert result[0] != threading.get_ident()


async def test_loop_stays_responsive_while_a_job_blocks(
    executor: BoundedExecutor,
) -> None:
    """A blocking job does not stop other coroutines from running."""
    release = threading.Event()
    job = asyncio.create_task(executor.submit(release.wait, _WAIT_S))
    ticks = 0
    for _ in range(5):
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 5 and not job.done()
    release.set()
    assert await job is True


async def test_refuses_at_once_when_full(executor: BoundedExecutor) -> None:
    """With workers busy and the queue full, submit raises Overloaded at once."""
    release = threading.Event()
    running = asyncio.create_task(executor.submit(release.wait, _WAIT_S))
    queued = asyncio.create_task(executor.submit(release.wait, _WAIT_S))
    await _until(lambda: executor.in_flight == 2)
    assert executor.queue_depth == 1
    started = time.monotonic()
    with pytest.raises(Overloaded, match="queue is full"):
        await executor.submit(time.sleep, 0)
    assert time.monotonic() - started < 0.5
    assert executor.in_flight == 2  # the refused job took no slot
    release.set()
    assert await running and await queued
    await _until(lambda: executor.in_flight == 0)
    assert executor.queue_depth == 0
    assert await executor.submit(lambda: "ok") == "ok"


async def test_errors_propagate_and_free_the_slot(executor: BoundedExecutor) -> None:
    """An exception in the job reaches the caller and releases capacity."""

    def boom() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        await executor.submit(boom)
    await _until(lambda: executor.in_flight == 0)


async def test_request_id_reaches_the_thread(executor: BoundedExecutor) -> None:
    """Context variables (the request id the logs use) are copied into the worker."""
    token = REQUEST_ID.set("req-42")
    try:
        assert await executor.submit(REQUEST_ID.get) == "req-42"
    finally:
        REQUEST_ID.reset(token)


async def test_cancelled_waiter_frees_queued_slot_but_not_running_one(
    executor: BoundedExecutor,
) -> None:
    """Cancelling a queued job frees its slot; a running job holds it until done."""
    release = threading.Event()
    running = asyncio.create_task(executor.submit(release.wait, _WAIT_S))
    await _until(lambda: executor.in_flight == 1)
    queued = asyncio.create_task(executor.submit(release.wait, _WAIT_S))
    await _until(lambda: executor.in_flight == 2)
    queued.cancel()
    await _until(lambda: executor.in_flight == 1)
    running.cancel()
    await asyncio.sleep(0.05)
    assert executor.in_flight == 1, "the model is still busy with the cancelled job"
    release.set()
    await _until(lambda: executor.in_flight == 0)


async def test_closed_executor_refuses_work() -> None:
    """After close, submit raises instead of queueing."""
    pool = BoundedExecutor(max_workers=1, max_queue=0)
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        await pool.submit(time.sleep, 0)


def test_rejects_bad_sizes() -> None:
    """Zero workers or a negative queue is a programming error."""
    with pytest.raises(ValueError):
        BoundedExecutor(max_workers=0, max_queue=1)
    with pytest.raises(ValueError):
        BoundedExecutor(max_workers=1, max_queue=-1)
