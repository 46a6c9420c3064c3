"""Cross-request batching, shared by the acoustic and vocoder stages.

Callers of many requests hand in one item each (a sentence stream's next chunk, a
mel step) and await its result; a dispatch task gathers the pending items into one
executor job per batch. Each stage's batcher says how a batch runs and when to stop
waiting for company; admission and the per-item API stay in the stage.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client import Histogram

from tts_common.errors import NotReady
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics

__all__ = ["StepBatcher", "batch_size_observer"]

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


@dataclass
class _Pending(Generic[ItemT, ResultT]):
    item: ItemT
    future: asyncio.Future[ResultT]
    enqueued: float


class StepBatcher(Generic[ItemT, ResultT]):
    """Runs the pending items of many callers as one job on a shared executor.

    A batch is collected while one of the executor's workers is free and dispatched
    when ``max_batch`` items are pending, when :meth:`_everyone_waiting` says no more
    can come, or when the oldest has waited ``max_wait_s`` (counted from
    :meth:`_wait_start`). Items whose caller was cancelled before their batch
    started are dropped. Subclasses implement :meth:`_run_batch`.
    """

    def __init__(
        self,
        executor: BoundedExecutor,
        *,
        what: str,
        max_batch: int,
        max_wait_s: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """``what`` names the stage in errors ("vocoder is shutting down");
        ``on_batch`` is called with each dispatched batch's size (metrics)."""
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_s >= 0")
        self.max_batch = max_batch
        """Most items in one job (1 turns batching off)."""
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        """Number of jobs run so far, by items in the job."""
        self._executor = executor
        self._what = what
        self._max_wait_s = max_wait_s
        self._on_batch = on_batch or (lambda size: None)
        self._pending: collections.deque[_Pending[ItemT, ResultT]] = collections.deque()
        self._in_batches = 0  # items in batches being run
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(executor.max_workers)
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def pending(self) -> int:
        """Items waiting for a batch (cancelled ones included until dropped)."""
        return len(self._pending)

    @property
    def queued_batches(self) -> int:
        """Batches the pending items make: executor jobs that run before an item
        sent now (they are not in the executor's queue yet)."""
        return -(-len(self._pending) // self.max_batch)

    def _check_open(self) -> None:
        if self._closed:
            raise NotReady(f"{self._what} is shutting down")

    async def _submit_item(self, item: ItemT) -> ResultT:
        """Queue ``item`` for the next batch and wait for its result."""
        self._check_open()
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(
                self._dispatch(), name=f"{self._what} batcher"
            )
        future: asyncio.Future[ResultT] = loop.create_future()
        pending = _Pending(item, future, loop.time())
        self._pending.append(pending)
        self._wakeup.set()
        return await pending.future

    async def close(self) -> None:
        """Stop dispatching; pending callers get NotReady, running batches finish."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._pending:
            pending = self._pending.popleft()
            if not pending.future.done():
                pending.future.set_exception(NotReady(f"{self._what} is shutting down"))
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def _run_batch(self, items: list[ItemT]) -> list[ResultT]:
        """One executor job for ``items``; one result per item, in order."""
        raise NotImplementedError

    def _everyone_waiting(self, waiting: int) -> bool:
        """Whether no caller that could still join this batch is missing."""
        return False

    def _wait_start(self, enqueued: float, free_since: float) -> float:
        """When the oldest item's wait for company started (default: when it came)."""
        return enqueued

    async def _dispatch(self) -> None:
        """Forever: take a worker slot, collect a batch, start it."""
        while True:
            await self._slots.acquire()
            try:
                batch = await self._collect()
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _collect(self) -> list[_Pending[ItemT, ResultT]]:
        """Wait for work, then for company: see the class docstring."""
        loop = asyncio.get_running_loop()
        free_since = loop.time()
        while True:
            self._drop_cancelled()
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            waiting = len(self._pending)
            since = self._wait_start(self._pending[0].enqueued, free_since)
            remaining = since + self._max_wait_s - loop.time()
            full = waiting >= self.max_batch or self._everyone_waiting(waiting)
            if full or remaining <= 0:
                break
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)
        count = min(self.max_batch, len(self._pending))
        return [self._pending.popleft() for _ in range(count)]

    def _drop_cancelled(self) -> None:
        if any(pending.future.done() for pending in self._pending):
            live = [p for p in self._pending if not p.future.done()]
            self._pending = collections.deque(live)

    async def _run(self, batch: list[_Pending[ItemT, ResultT]]) -> None:
        """Run ``batch`` in one job and hand each result to its caller."""
        self.batch_sizes[len(batch)] += 1
        self._on_batch(len(batch))
        self._in_batches += len(batch)
        try:
            results = await self._run_batch([pending.item for pending in batch])
        except Exception as exc:
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
        else:
            for pending, result in zip(batch, results, strict=True):
                if not pending.future.done():
                    pending.future.set_result(result)
        finally:
            self._in_batches -= len(batch)
            self._slots.release()
            self._wakeup.set()  # the callers left may all be waiting now


def batch_size_observer(
    metrics: Metrics | None, name: str, documentation: str
) -> Callable[[str], Callable[[int], None] | None]:
    """``voice -> on_batch`` recording each batch's size in the histogram ``name``
    (label ``voice``) on the metrics registry; ``None`` for every voice without
    metrics."""
    if metrics is None:
        return lambda voice: None
    histogram = Histogram(
        name,
        documentation,
        ["voice"],
        buckets=_BATCH_BUCKETS,
        registry=metrics.registry,
    )
    return lambda voice: histogram.labels(voice).observe
