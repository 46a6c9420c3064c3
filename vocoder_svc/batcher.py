"""Dynamic batching of stream steps (mel chunks of many sentences) per voice."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from prometheus_client import Histogram

from tts_common.errors import NotReady, Overloaded
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics
from vocoder_svc.model import Vocoder, VocoderStream

__all__ = ["VocodeBatcher", "build_batchers"]

_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


@dataclass
class _Job:
    stream: VocoderStream
    mel: np.ndarray
    end: bool
    future: asyncio.Future[np.ndarray]
    enqueued: float


class VocodeBatcher:
    """Gathers the next step of many streams and runs them in one ``stream_batch``.

    A step is a stream's next mel chunk (or its end). A batch is dispatched when
    ``max_batch`` steps are pending or the oldest has waited ``max_wait_s``,
    whichever comes first, and only when one of the executor's workers is free:
    while every worker is busy, new steps pile up and the next batch takes them
    all (up to ``max_batch``). Pending steps are capped at ``max_batch`` per
    executor slot; beyond that :meth:`vocode` raises
    :class:`~tts_common.errors.Overloaded`. A step whose caller was cancelled
    before its batch started is dropped (its stream is abandoned with it). A
    stream has at most one step pending: its caller awaits each before the next.
    """

    def __init__(
        self,
        vocoder: Vocoder,
        executor: BoundedExecutor,
        *,
        max_batch: int = 16,
        max_wait_s: float = 0.002,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """Create the batcher; its dispatch task starts with the first step.

        Args:
            vocoder: Runs the batches (``stream_batch``) in the executor's threads.
            executor: Shared inference pool; one job per batch.
            max_batch: Most steps in one forward pass.
            max_wait_s: Longest the oldest pending step waits for company.
            on_batch: Called with each dispatched batch's size (metrics).
        """
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_s >= 0")
        self.vocoder = vocoder
        """The model this batcher runs."""
        self._executor = executor
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._max_pending = max_batch * executor.capacity
        self._on_batch = on_batch or (lambda size: None)
        self._pending: collections.deque[_Job] = collections.deque()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(executor.max_workers)
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        """Number of forward passes run so far, by batch size."""

    @property
    def pending(self) -> int:
        """Steps waiting for a batch (cancelled ones included until dropped)."""
        return len(self._pending)

    @property
    def queued_batches(self) -> int:
        """Batches the pending steps make: executor jobs that run before a
        step sent now (they are not in the executor's queue yet)."""
        return -(-len(self._pending) // self._max_batch)

    def open_stream(self) -> VocoderStream:
        """State for a new sentence of this voice."""
        return self.vocoder.open_stream()

    async def vocode(
        self, stream: VocoderStream, mel: np.ndarray, end: bool = False
    ) -> np.ndarray:
        """Run ``stream``'s next step, batched with other streams' steps: the audio
        that became final (float32, whole hops; at the end, all that is owed).

        Raises:
            Overloaded: Too many steps are pending.
            NotReady: The batcher is closed.
        """
        if self._closed:
            raise NotReady("vocoder is shutting down")
        if len(self._pending) >= self._max_pending:
            raise Overloaded(
                f"vocoder queue is full ({len(self._pending)} chunks pending); "
                "retry with backoff"
            )
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._dispatch(), name="vocode-batcher")
        job = _Job(stream, mel, end, loop.create_future(), loop.time())
        self._pending.append(job)
        self._wakeup.set()
        return await job.future

    async def close(self) -> None:
        """Stop dispatching; pending callers get NotReady, running batches finish."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._pending:
            job = self._pending.popleft()
            if not job.future.done():
                job.future.set_exception(NotReady("vocoder is shutting down"))
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

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

    async def _collect(self) -> list[_Job]:
        """Wait for work, then until the batch is full or the oldest has waited."""
        loop = asyncio.get_running_loop()
        while True:
            self._drop_cancelled()
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            remaining = self._pending[0].enqueued + self._max_wait_s - loop.time()
            if len(self._pending) >= self._max_batch or remaining <= 0:
                break
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)
        count = min(self._max_batch, len(self._pending))
        return [self._pending.popleft() for _ in range(count)]

    def _drop_cancelled(self) -> None:
        if any(job.future.done() for job in self._pending):
            live = [job for job in self._pending if not job.future.done()]
            self._pending = collections.deque(live)

    async def _run(self, batch: list[_Job]) -> None:
        """Vocode ``batch`` in one job and hand each result to its caller."""
        self.batch_sizes[len(batch)] += 1
        self._on_batch(len(batch))
        try:
            steps = [(job.stream, job.mel, job.end) for job in batch]
            results = await self._executor.submit(self.vocoder.stream_batch, steps)
        except Exception as exc:
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
        else:
            for job, audio in zip(batch, results, strict=True):
                if not job.future.done():
                    job.future.set_result(audio)
        finally:
            self._slots.release()


def build_batchers(
    vocoders: Mapping[str, Vocoder],
    executor: BoundedExecutor,
    max_batch: int = 16,
    max_wait_s: float = 0.002,
    metrics: Metrics | None = None,
) -> dict[str, VocodeBatcher]:
    """One batcher per voice, all on ``executor``.

    With ``metrics``, each batch's size is recorded in a ``tts_vocoder_batch_size``
    histogram (label ``voice``) on its registry.
    """
    histogram = None
    if metrics is not None:
        histogram = Histogram(
            "tts_vocoder_batch_size",
            "Stream steps (mel chunks) per vocoder forward pass.",
            ["voice"],
            buckets=_BATCH_BUCKETS,
            registry=metrics.registry,
        )
    return {
        name: VocodeBatcher(
            voc,
            executor,
            max_batch=max_batch,
            max_wait_s=max_wait_s,
            on_batch=histogram.labels(name).observe if histogram else None,
        )
        for name, voc in vocoders.items()
    }
