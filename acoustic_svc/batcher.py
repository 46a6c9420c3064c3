"""Cross-request batching of decoder steps: the sentences streaming on a voice share them."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from prometheus_client import Histogram

from acoustic_svc.model import AcousticModel, MelStream
from tts_common.errors import NotReady, Overloaded
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics

__all__ = ["DecodeBatcher", "build_batchers"]

_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)
_FULL_RETRY_S = 0.001
"""Pause before resubmitting a batch the executor's queue had no room for."""


@dataclass
class _Request:
    stream: MelStream
    future: asyncio.Future[np.ndarray | None]
    enqueued: float


class DecodeBatcher:
    """Runs the next chunk of many sentence streams of one voice as one job.

    A stream takes part while its caller is inside :meth:`joined`. Each
    :meth:`next_chunk` asks for that stream's next chunk; the requests pending when
    a batch forms run as one ``model.next_chunks`` job, where every decoder step is
    one forward pass over the sentences still short of their chunk (each at its own
    step, length and band width). Sentences join at their first request and leave
    when they end or their caller goes, so the batch changes from job to job.

    A batch is dispatched, while one of the executor's workers is free, as soon as
    every joined stream not already in a running batch is waiting, or ``max_batch``
    are, or the first request has waited ``max_wait_s`` for company since a worker
    became free. A lone stream therefore never waits. At most ``max_batch`` streams
    per executor slot may be joined; beyond that :meth:`joined` raises
    :class:`~tts_common.errors.Overloaded`.
    """

    def __init__(
        self,
        model: AcousticModel,
        executor: BoundedExecutor,
        *,
        max_batch: int = 8,
        max_wait_s: float = 0.002,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """Create the batcher; its dispatch task starts with the first request.

        Args:
            model: Runs the batches (``next_chunks``) in the executor's threads.
            executor: Shared inference pool; one job per batch.
            max_batch: Most sentences in one job (1 turns batching off).
            max_wait_s: Longest a request waits for company once a worker is free.
            on_batch: Called with each dispatched batch's size (metrics).
        """
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_s >= 0")
        self.model = model
        """The model this batcher runs."""
        self.max_batch = max_batch
        self._executor = executor
        self._max_wait_s = max_wait_s
        self._max_joined = max_batch * executor.capacity
        self._on_batch = on_batch or (lambda size: None)
        self._joined: set[MelStream] = set()
        self._pending: collections.deque[_Request] = collections.deque()
        self._running = 0  # streams in batches being run
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(executor.max_workers)
        self._task: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._closed = False
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        """Number of jobs run so far, by sentences in the job."""

    @property
    def pending(self) -> int:
        """Requests waiting for a batch (cancelled ones included until dropped)."""
        return len(self._pending)

    @property
    def queued_batches(self) -> int:
        """Batches the pending requests make: executor jobs that run before a
        request made now (they are not in the executor's queue yet)."""
        return -(-len(self._pending) // self.max_batch)

    @contextlib.contextmanager
    def joined(self, stream: MelStream) -> Iterator[None]:
        """Count ``stream`` as streaming here until the block ends, then close it
        (a batch running it drops it at its next round).

        Raises:
            Overloaded: ``max_batch`` streams per executor slot are joined already.
            NotReady: The batcher is closed.
        """
        if self._closed:
            raise NotReady("acoustic model is shutting down")
        if len(self._joined) >= self._max_joined:
            raise Overloaded(
                f"acoustic batcher is full ({len(self._joined)} sentences streaming); "
                "retry with backoff"
            )
        self._joined.add(stream)
        try:
            yield
        finally:
            self._joined.discard(stream)
            stream.close()
            self._wakeup.set()  # the streams left may all be waiting now

    async def next_chunk(self, stream: MelStream) -> np.ndarray | None:
        """The stream's next mel chunk, None once it has ended; run in a batch.

        Raises:
            NotReady: The batcher is closed.
            Exception: Whatever ``next_chunks`` raises, for every stream in the batch.
        """
        if self._closed:
            raise NotReady("acoustic model is shutting down")
        if stream.done:
            return None
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._dispatch(), name="decode-batcher")
        request = _Request(stream, loop.create_future(), loop.time())
        self._pending.append(request)
        self._wakeup.set()
        return await request.future

    async def close(self) -> None:
        """Stop dispatching; pending callers get NotReady, running batches finish."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._pending:
            request = self._pending.popleft()
            if not request.future.done():
                request.future.set_exception(
                    NotReady("acoustic model is shutting down")
                )
        if self._batches:
            await asyncio.gather(*self._batches, return_exceptions=True)

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
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _collect(self) -> list[_Request]:
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
            since = max(self._pending[0].enqueued, free_since)
            remaining = since + self._max_wait_s - loop.time()
            everyone = waiting >= len(self._joined) - self._running
            if waiting >= self.max_batch or everyone or remaining <= 0:
                break
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)
        count = min(self.max_batch, len(self._pending))
        return [self._pending.popleft() for _ in range(count)]

    def _drop_cancelled(self) -> None:
        if any(request.future.done() for request in self._pending):
            live = [r for r in self._pending if not r.future.done()]
            self._pending = collections.deque(live)

    async def _run(self, batch: list[_Request]) -> None:
        """Run ``batch`` in one job and hand each chunk to its caller."""
        self.batch_sizes[len(batch)] += 1
        self._on_batch(len(batch))
        self._running += len(batch)
        try:
            chunks = await self._submit([request.stream for request in batch])
        except Exception as exc:
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
        else:
            for request, chunk in zip(batch, chunks, strict=True):
                if not request.future.done():
                    request.future.set_result(chunk)
        finally:
            self._running -= len(batch)
            self._slots.release()
            self._wakeup.set()

    async def _submit(self, streams: list[MelStream]) -> list[np.ndarray | None]:
        """One ``next_chunks`` job. Streams already running were admitted, so a
        full executor queue (new sentences' alignments) delays them, not fails them."""
        while True:
            try:
                return await self._executor.submit(self.model.next_chunks, streams)
            except Overloaded:
                if self._closed:
                    raise
                await asyncio.sleep(_FULL_RETRY_S)


def build_batchers(
    models: Mapping[str, AcousticModel],
    executor: BoundedExecutor,
    max_batch: int = 8,
    max_wait_s: float = 0.002,
    metrics: Metrics | None = None,
) -> dict[str, DecodeBatcher]:
    """One batcher per voice, all on ``executor``.

    With ``metrics``, each job's size is recorded in a ``tts_acoustic_batch_size``
    histogram (label ``voice``) on its registry.
    """
    histogram = None
    if metrics is not None:
        histogram = Histogram(
            "tts_acoustic_batch_size",
            "Sentences per batched decoder job.",
            ["voice"],
            buckets=_BATCH_BUCKETS,
            registry=metrics.registry,
        )
    return {
        name: DecodeBatcher(
            model,
            executor,
            max_batch=max_batch,
            max_wait_s=max_wait_s,
            on_batch=histogram.labels(name).observe if histogram else None,
        )
        for name, model in models.items()
    }
