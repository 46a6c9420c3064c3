"""A stream's incoming mel, read as it arrives and handed over in growing steps.

The vocoder pays a fixed cost per pass, so a short chunk costs more per frame
than a long one. While a stream's previous pass runs, the acoustic stage keeps
sending: reading ahead and taking what has arrived makes steps grow exactly
when the vocoder falls behind, and stay small (early first audio) while it keeps
up. A step is sized (:func:`step_limit`) to give half as much new audio as was
already sent (at least ``MIN_STEP_FRAMES`` worth). With a step of a times the
audio sent S, computing it (cost c per second of audio) must end before the
S - c*S seconds still buffered run out: c < 1 / (1 + a). Whole-sentence passes
cost c ~ 0.3 on one core, but the first steps of a stream share the 2 cores with
the acoustic stage's burst and were measured at c ~ 0.6-0.8: a = 1 stalled the
player about once in eight requests, a = 1/2 never in 76 (2-core box, one caller,
`ttsctl bench load`), for one or two more passes per sentence. A non-causal
vocoder holds back its look-ahead, so its first step also takes those frames
plus a whole ``MIN_STEP_FRAMES``: a first answer of a few milliseconds of audio
would run out before the second. Steps
never exceed ``MAX_STEP_FRAMES``, which bounds the activations a pass allocates
and the shapes the conv kernels see (with whole sentences per pass, the process
grew to several GB as the allocator kept every size it had been asked for).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import numpy as np

from sambert_tts_protos.v1 import vocoder_service_pb2 as pb
from tts_common.audio import decode_mel
from tts_common.errors import InvalidInput

__all__ = ["MelInbox", "first_audio_frames", "step_limit"]

MIN_STEP_FRAMES = 16
"""Smallest step, and the first answer's audio: about 0.2 s at common hops."""
MAX_STEP_FRAMES = 64
"""Largest step: per-pass overhead is a few percent from here on (1 CPU thread,
bundled voice: 48-frame steps cost 1.05x one whole-sentence pass, 12-frame 1.23x)."""
FIRST_STEP_WAIT_S = 0.1
"""Longest the first step waits for ``at_least`` frames (a caller that sends more
only after hearing audio is served after this; the acoustic stage sends faster)."""
MAX_QUEUED_CHUNKS = 64
"""Chunks read ahead before the reader waits (gRPC flow control then holds the sender)."""

_Item = tuple[np.ndarray, bool] | Exception


def first_audio_frames(look_ahead: int) -> int:
    """Frames the first step waits for (at most ``FIRST_STEP_WAIT_S``): a
    non-causal vocoder's held-back look-ahead plus a minimal step, so the first
    answer lasts while the second is made (half a step, 93 ms of audio, was
    measured to stall the player at the second or third answer); a causal one's
    first frame is audio already."""
    return look_ahead + MIN_STEP_FRAMES if look_ahead else 1


def step_limit(taken: int, played: int, look_ahead: int) -> int:
    """Frames the next step may take: enough for half as many frames of new audio
    as have been ``played`` (sent), clamped to MIN..MAX_STEP_FRAMES, plus what the
    look-ahead still holds back of the ``taken`` frames."""
    want = min(max(played // 2, MIN_STEP_FRAMES), MAX_STEP_FRAMES)
    held = taken - played  # frames in, audio not out yet
    return want + max(look_ahead - held, 0)


class MelInbox:
    """Reads the mel chunks of one StreamVocode call in a task of its own.

    Checks each chunk's order and contents as it comes; :meth:`take` returns all
    frames that have arrived since the last call. Use as an async context manager
    so the reader stops with the call.
    """

    def __init__(
        self, requests: AsyncIterator[pb.StreamVocodeRequest], num_mels: int
    ) -> None:
        self._requests, self._num_mels = requests, num_mels
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(MAX_QUEUED_CHUNKS)
        self._task: asyncio.Task[None] | None = None
        self._ended = False
        self._left: tuple[np.ndarray, bool] | None = None  # rest of a split chunk

    async def __aenter__(self) -> MelInbox:
        self._task = asyncio.ensure_future(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            # Wait for the reader to stop: a read still pending on the call when
            # the status goes out made gRPC answer some callers INTERNAL instead.
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def take(self, limit: int, at_least: int = 1) -> tuple[np.ndarray, bool]:
        """The next step: at most ``limit`` frames [n, num_mels] of those that
        arrived, waiting for one chunk and then up to ``FIRST_STEP_WAIT_S`` for
        ``at_least`` frames (or the end); and whether the stream ends with them.

        Raises:
            InvalidInput: A chunk was out of order or malformed, or a config came
                again.
        """
        if self._ended:
            raise RuntimeError("the stream has already ended")
        room = max(limit, 1)
        wanted = min(max(at_least, 1), room)
        parts: list[np.ndarray] = []
        end = False
        patience: float | None = None  # when waiting for ``at_least`` stops
        while room > 0 and not end:
            if self._left is not None:
                item: _Item = self._left
                self._left = None
            elif parts and self._queue.empty():
                if limit - room >= wanted:
                    break
                if patience is None:
                    patience = asyncio.get_running_loop().time() + FIRST_STEP_WAIT_S
                try:
                    async with asyncio.timeout_at(patience):
                        item = await self._queue.get()
                except TimeoutError:
                    break
            else:
                item = await self._queue.get()
            if isinstance(item, Exception):
                raise item
            frames, end = item
            if len(frames) > room:  # keep the rest for the next step
                self._left, frames, end = (frames[room:], end), frames[:room], False
            parts.append(frames)
            room -= len(frames)
        mel = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._ended = end
        return mel, end

    async def _read(self) -> None:
        chunks = frames = 0
        try:
            async for message in self._requests:
                if not message.HasField("mel"):
                    raise InvalidInput("only the first message may be a config")
                chunk = message.mel
                mel = decode_mel(chunk.mel, self._num_mels)
                if (chunk.chunk_index, chunk.start_frame) != (chunks, frames):
                    raise InvalidInput(
                        f"mel chunk out of order: got chunk_index {chunk.chunk_index} "
                        f"at start_frame {chunk.start_frame}, expected {chunks} at "
                        f"{frames}"
                    )
                chunks, frames = chunks + 1, frames + len(mel)
                await self._queue.put((mel, chunk.last))
                if chunk.last:
                    return  # the end is known: flush now rather than at half-close
            await self._queue.put((np.zeros((0, self._num_mels), np.float32), True))
        except Exception as exc:  # handed to the call, which raises it
            await self._queue.put(exc)
