"""Exact streaming windows: which mel frames to vocode at each step of one stream.

Shared by the servicer (a stream of chunks, batched across streams) and
:meth:`vocoder_svc.hifigan.HifiGanVocoder.stream_wave` (one local stream).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tts_common.errors import InvalidInput

__all__ = ["MelWindow", "StreamWindows"]


@dataclass(frozen=True)
class MelWindow:
    """Frames to vocode for one stream step, and which part of the audio is new."""

    mel: np.ndarray
    """float32 [frames, num_mels]: left context, the new frames, any look-ahead."""
    skip: int
    """Leading context frames whose audio was already sent."""
    frames: int
    """Frames after ``skip`` whose audio is final now."""

    def cut(self, audio: np.ndarray, hop_length: int) -> np.ndarray:
        """The new samples out of the window's audio (``frames * hop_length`` long)."""
        return audio[self.skip * hop_length : (self.skip + self.frames) * hop_length]


class StreamWindows:
    """Exact streaming state of one sentence: which frames to vocode at each step.

    A frame's audio depends on ``before`` earlier and ``after`` later frames, so a
    window is (up to ``before`` frames already vocoded) + the new frames, and the
    last ``after`` frames are held back until more mel or the end of the stream
    arrives. Taking only the new frames' samples from each window makes the
    concatenated audio equal to the whole-mel audio.
    """

    def __init__(self, context_frames: tuple[int, int], num_mels: int) -> None:
        """Start an empty stream for a vocoder with this receptive field."""
        self._before, self._after = context_frames
        self._buf = np.empty((0, num_mels), np.float32)
        self._start = 0  # index in the sentence of the first frame held in _buf
        self._done = 0  # frames whose audio has been handed out
        self._total = 0  # frames received
        self._chunks = 0  # chunks received

    def push(
        self, frames: np.ndarray, chunk_index: int, start_frame: int
    ) -> MelWindow | None:
        """Add the next chunk, float32 [n, num_mels]; the window to vocode now, if any.

        Raises:
            InvalidInput: ``chunk_index`` or ``start_frame`` is not the next one.
        """
        if (chunk_index, start_frame) != (self._chunks, self._total):
            raise InvalidInput(
                f"mel chunk out of order: got chunk_index {chunk_index} at start_frame "
                f"{start_frame}, expected {self._chunks} at {self._total}"
            )
        return self.add(frames)

    def add(self, frames: np.ndarray) -> MelWindow | None:
        """Add the next frames, float32 [n, num_mels], with no order to check (a
        local stream); the window to vocode now, if any."""
        self._chunks += 1
        if not len(frames):
            return None
        self._buf = np.concatenate([self._buf, frames])
        self._total += len(frames)
        ready = self._total - self._after  # frames whose look-ahead has arrived
        return self._take(ready) if ready > self._done else None

    def finish(self) -> MelWindow | None:
        """End of stream: the window for the held-back frames, if any.

        Raises:
            InvalidInput: The stream had no frames at all.
        """
        if self._total == 0:
            raise InvalidInput("mel stream had no frames: send at least one frame")
        # At the end, the model's zero padding is what the whole-mel run sees too.
        return self._take(self._total) if self._done < self._total else None

    def _take(self, upto: int) -> MelWindow:
        lo = max(self._done - self._before, self._start)
        window = MelWindow(
            self._buf[lo - self._start :], self._done - lo, upto - self._done
        )
        self._done = upto
        keep = max(self._done - self._before, self._start)
        self._buf = self._buf[keep - self._start :]
        self._start = keep
        return window
