"""Dynamic batching of stream steps (mel chunks of many sentences) per voice."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from tts_common.batching import StepBatcher, batch_size_observer
from tts_common.errors import Overloaded
from tts_common.executor import BoundedExecutor
from tts_common.metrics import Metrics
from vocoder_svc.model import Vocoder, VocoderStream

__all__ = ["VocodeBatcher", "build_batchers"]

_Step = tuple[VocoderStream, np.ndarray, bool]
"""A stream, its next mel chunk, and whether the chunk ends it."""


class VocodeBatcher(StepBatcher[_Step, np.ndarray]):
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
        super().__init__(
            executor,
            what="vocoder",
            max_batch=max_batch,
            max_wait_s=max_wait_s,
            on_batch=on_batch,
        )
        self.vocoder = vocoder
        """The model this batcher runs."""
        self._max_pending = max_batch * executor.capacity

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
        self._check_open()
        if len(self._pending) >= self._max_pending:
            raise Overloaded(
                f"vocoder queue is full ({len(self._pending)} chunks pending); "
                "retry with backoff"
            )
        return await self._submit_item((stream, mel, end))

    async def _run_batch(self, items: list[_Step]) -> list[np.ndarray]:
        return await self._executor.submit(self.vocoder.stream_batch, items)


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
    observer = batch_size_observer(
        metrics,
        "tts_vocoder_batch_size",
        "Stream steps (mel chunks) per vocoder forward pass.",
    )
    return {
        name: VocodeBatcher(
            voc,
            executor,
            max_batch=max_batch,
            max_wait_s=max_wait_s,
            on_batch=observer(name),
        )
        for name, voc in vocoders.items()
    }
