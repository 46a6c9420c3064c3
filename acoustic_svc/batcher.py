"""Cross-request batching of decoder steps: the sentences streaming on a voice share them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from acoustic_svc.model import AcousticModel, MelStream
from tts_common.batching import StepBatcher, batch_size_observer
from tts_common.errors import Overloaded
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics

__all__ = ["DecodeBatcher", "build_batchers"]

_FULL_RETRY_S = 0.001
"""Pause before resubmitting a batch the executor's queue had no room for."""


class DecodeBatcher(StepBatcher[MelStream, "np.ndarray | None"]):
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
        super().__init__(
            executor,
            what="acoustic model",
            max_batch=max_batch,
            max_wait_s=max_wait_s,
            on_batch=on_batch,
        )
        self.model = model
        """The model this batcher runs."""
        self._max_joined = max_batch * executor.capacity
        self._joined: set[MelStream] = set()

    @contextlib.contextmanager
    def joined(self, stream: MelStream) -> Iterator[None]:
        """Count ``stream`` as streaming here until the block ends, then close it
        (a batch running it drops it at its next round).

        Raises:
            Overloaded: ``max_batch`` streams per executor slot are joined already.
            NotReady: The batcher is closed.
        """
        self._check_open()
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
        self._check_open()
        if stream.done:
            return None
        return await self._submit_item(stream)

    def _everyone_waiting(self, waiting: int) -> bool:
        return waiting >= len(self._joined) - self._in_batches

    def _wait_start(self, enqueued: float, free_since: float) -> float:
        return max(enqueued, free_since)

    async def _run_batch(self, items: list[MelStream]) -> list[np.ndarray | None]:
        """One ``next_chunks`` job. Streams already running were admitted, so a
        full executor queue (new sentences' alignments) delays them, not fails them."""
        while True:
            try:
                return await self._executor.submit(self.model.next_chunks, items)
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
    observer = batch_size_observer(
        metrics, "tts_acoustic_batch_size", "Sentences per batched decoder job."
    )
    return {
        name: DecodeBatcher(
            model,
            executor,
            max_batch=max_batch,
            max_wait_s=max_wait_s,
            on_batch=observer(name),
        )
        for name, model in models.items()
    }
