"""DecodeBatcher on a fake model: when batches form, who is in them, and the limits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

import numpy as np
import pytest

from acoustic_svc.batcher import DecodeBatcher, build_batchers
from tts_common.errors import NotReady, Overloaded
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics

_WAIT_S = 10.0
_LONG_S = 60.0  # a wait for company no test may sit out


class _Stream:
    """A sentence of ``chunks`` one-frame chunks whose values say whose they are."""

    def __init__(self, name: int, chunks: int = 3) -> None:
        self.name, self.left, self.closed = name, chunks, False

    def __iter__(self) -> Iterator[np.ndarray]:
        return self

    def __next__(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def symbol_frames(self) -> tuple[int, ...]:
        return ()

    @property
    def done(self) -> bool:
        return self.closed or self.left == 0

    def close(self) -> None:
        self.closed = True


class _Model:
    """Records the streams of every ``next_chunks`` job; ``gate`` holds jobs."""

    def __init__(self) -> None:
        self.jobs: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()

    def next_chunks(self, streams: Sequence[Any]) -> list[np.ndarray | None]:
        self.gate.wait(_WAIT_S)
        self.jobs.append([s.name for s in streams])
        out: list[np.ndarray | None] = []
        for s in streams:
            if s.done:
                out.append(None)
            else:
                s.left -= 1
                out.append(np.full((1, 2), s.name, np.float32))
        return out


@pytest.fixture
def executor() -> Iterator[BoundedExecutor]:
    """One worker and two queue slots: capacity 3."""
    pool = BoundedExecutor(max_workers=1, max_queue=2)
    yield pool
    pool.close(wait=True)


def _batcher(executor: BoundedExecutor, **kwargs: Any) -> tuple[DecodeBatcher, _Model]:
    model = _Model()  # only next_chunks: the batcher uses nothing else
    return DecodeBatcher(cast(Any, model), executor, **kwargs), model


async def _until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def _stream_all(batcher: DecodeBatcher, stream: _Stream) -> list[float]:
    with batcher.joined(stream):
        got = []
        while (chunk := await batcher.next_chunk(stream)) is not None:
            got.append(float(chunk[0, 0]))
        return got


async def test_a_lone_stream_never_waits_for_company(executor: BoundedExecutor) -> None:
    """With every joined stream waiting, the batch goes at once: max_wait is moot."""
    batcher, _ = _batcher(executor, max_wait_s=_LONG_S)
    got = await asyncio.wait_for(_stream_all(batcher, _Stream(7)), _WAIT_S)
    assert got == [7.0, 7.0, 7.0]
    assert batcher.batch_sizes == {1: 3}
    await batcher.close()


async def test_joined_streams_wait_for_each_other(executor: BoundedExecutor) -> None:
    """Streams that joined share every job: each waits (up to max_wait) for the
    others' next request, and one that ends leaves the others to go on."""
    batcher, model = _batcher(executor, max_wait_s=_LONG_S)
    streams = [_Stream(1, 2), _Stream(2, 4), _Stream(3, 3)]
    results = await asyncio.wait_for(
        asyncio.gather(*(_stream_all(batcher, s) for s in streams)), _WAIT_S
    )
    assert results == [[1.0] * 2, [2.0] * 4, [3.0] * 3]
    assert [sorted(job) for job in model.jobs] == [[1, 2, 3]] * 2 + [[2, 3], [2]]
    await batcher.close()


async def test_max_wait_bounds_the_wait_for_a_straggler(
    executor: BoundedExecutor,
) -> None:
    """A joined stream that does not ask is not waited for beyond max_wait."""
    batcher, model = _batcher(executor, max_wait_s=0.01)
    idle, busy = _Stream(1), _Stream(2, 2)
    with batcher.joined(idle):
        got = await asyncio.wait_for(_stream_all(batcher, busy), _WAIT_S)
    assert got == [2.0, 2.0]
    assert model.jobs == [[2], [2]]
    await batcher.close()


async def test_batches_hold_at_most_max_batch(executor: BoundedExecutor) -> None:
    """Five streams, max_batch 2: every job has one or two of them."""
    batcher, model = _batcher(executor, max_batch=2, max_wait_s=_LONG_S)
    streams = [_Stream(i, 2) for i in range(5)]
    results = await asyncio.wait_for(
        asyncio.gather(*(_stream_all(batcher, s) for s in streams)), _WAIT_S
    )
    assert results == [[float(i)] * 2 for i in range(5)]
    assert max(len(job) for job in model.jobs) == 2
    assert sum(len(job) for job in model.jobs) == 10
    await batcher.close()


async def test_a_cancelled_caller_leaves(executor: BoundedExecutor) -> None:
    """A caller cancelled while its request waits is dropped before the batch runs,
    its stream is closed on the way out, and the others no longer wait for it."""
    batcher, model = _batcher(executor, max_wait_s=_LONG_S)
    model.gate.clear()
    gone, stays = _Stream(1, 5), _Stream(2, 3)
    staying = asyncio.ensure_future(_stream_all(batcher, stays))
    await _until(lambda: executor.in_flight == 1)  # its first job runs, held
    leaving = asyncio.ensure_future(_stream_all(batcher, gone))
    await _until(lambda: batcher.pending == 1)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert gone.closed
    model.gate.set()
    assert await asyncio.wait_for(staying, _WAIT_S) == [2.0] * 3
    assert model.jobs == [[2]] * 3
    await batcher.close()


async def test_too_many_streams_are_refused(executor: BoundedExecutor) -> None:
    """At most max_batch streams per executor slot (workers + queue) join."""
    batcher, _ = _batcher(executor, max_batch=2)
    streams = [_Stream(i) for i in range(7)]
    entered = [batcher.joined(s) for s in streams[:6]]
    for cm in entered:
        cm.__enter__()
    with pytest.raises(Overloaded, match="6 sentences streaming"):
        batcher.joined(streams[6]).__enter__()
    for cm in entered:
        cm.__exit__(None, None, None)
    with batcher.joined(streams[6]):
        pass
    await batcher.close()


async def test_a_full_executor_delays_a_batch_instead_of_failing_it(
    executor: BoundedExecutor,
) -> None:
    """Streams already running are not failed because new work filled the queue."""
    batcher, _ = _batcher(executor)
    gate = threading.Event()
    held = [asyncio.ensure_future(executor.submit(gate.wait, _WAIT_S)) for _ in "abc"]
    await _until(lambda: executor.in_flight == executor.capacity)
    streaming = asyncio.ensure_future(_stream_all(batcher, _Stream(4, 2)))
    await asyncio.sleep(0.05)
    assert not streaming.done()
    gate.set()
    assert await asyncio.wait_for(streaming, _WAIT_S) == [4.0, 4.0]
    await asyncio.gather(*held)
    await batcher.close()


async def test_pending_requests_count_as_queued_batches(
    executor: BoundedExecutor,
) -> None:
    """Requests waiting in the batcher are jobs the executor cannot see yet."""
    batcher, model = _batcher(executor, max_batch=2, max_wait_s=0.0)
    model.gate.clear()
    tasks = [asyncio.ensure_future(batcher.next_chunk(_Stream(i))) for i in range(6)]
    await _until(lambda: len(tasks) - batcher.pending == 2)  # one batch running
    assert batcher.queued_batches == 2
    model.gate.set()
    await asyncio.gather(*tasks)
    assert batcher.queued_batches == 0
    await batcher.close()


async def test_close_answers_not_ready(executor: BoundedExecutor) -> None:
    """After close, waiting and new requests get NotReady."""
    batcher, model = _batcher(executor, max_batch=1)
    model.gate.clear()
    first = asyncio.ensure_future(batcher.next_chunk(_Stream(1)))
    waiting = asyncio.ensure_future(batcher.next_chunk(_Stream(2)))
    await _until(lambda: batcher.pending == 1)
    model.gate.set()
    await batcher.close()
    assert (await first) is not None
    with pytest.raises(NotReady):
        await waiting
    with pytest.raises(NotReady):
        await batcher.next_chunk(_Stream(3))


async def test_build_batchers_records_batch_sizes(executor: BoundedExecutor) -> None:
    """One batcher per voice; each job's size goes to the batch-size histogram."""
    metrics = Metrics("acoustic-test")
    models: dict[str, Any] = {"a": _Model(), "b": _Model()}
    batchers = build_batchers(models, executor, 4, 0.0, metrics)
    assert list(batchers) == ["a", "b"] and batchers["a"].max_batch == 4
    await batchers["a"].next_chunk(_Stream(1))
    assert 'tts_acoustic_batch_size_count{voice="a"} 1.0' in metrics.render()
    assert 'tts_acoustic_batch_size_count{voice="b"} 0.0' in metrics.render()
    for batcher in batchers.values():
        await batcher.close()
