"""Streamed sentences in the vocoder: state per stream, many streams per pass.

The generator's streaming form (:mod:`vocoder_svc.nn.streaming`) runs each frame
once; this module keeps each sentence's place, its layer state, and the samples
that do not make a whole hop yet, so every answer is a whole number of hops.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tts_common.errors import InvalidInput
from vocoder_svc.nn.streaming import Slots, StreamNet

__all__ = ["MelStream", "advance"]


class MelStream:
    """One sentence being vocoded in chunks (a :class:`~vocoder_svc.model.VocoderStream`)."""

    def __init__(self, net: StreamNet, like: torch.Tensor) -> None:
        """A new stream for ``net``, its state in ``like``'s dtype and device."""
        self.net = net
        """The generator this stream's state belongs to."""
        self.slots: Slots = net.open(like)
        self.held = like.new_zeros(0)
        """Samples already made that do not fill a whole hop yet."""
        self._frames = 0
        self._ended = False

    @property
    def frames(self) -> int:
        """Mel frames received so far."""
        return self._frames

    @property
    def ended(self) -> bool:
        """True once the last step has been run."""
        return self._ended

    def check_step(self, frames: int, end: bool) -> None:
        """Raise InvalidInput unless ``frames`` more (and maybe the end) may come."""
        if self._ended:
            raise InvalidInput("this mel stream has already ended")
        if end and self._frames + frames == 0:
            raise InvalidInput("mel stream had no frames: send at least one frame")

    def take(self, new: torch.Tensor, frames: int, end: bool) -> torch.Tensor:
        """Record a step; the whole hops of held + ``new`` audio (all at the end)."""
        self._frames += frames
        self._ended = end
        audio = torch.cat([self.held, new]) if len(self.held) else new
        ready = len(audio) if end else len(audio) // self.net.hop * self.net.hop
        self.held = audio[ready:].clone()
        return audio[:ready]


def advance(
    steps: Sequence[tuple[MelStream, torch.Tensor, bool]],
) -> list[torch.Tensor]:
    """Run one step of each stream (all of one net) in one batched pass.

    Each step is (stream, new frames ``[n, num_mels]`` in the net's dtype and
    device, whether they are the last); returns each stream's new whole hops.
    """
    if not steps:
        return []
    net = steps[0][0].net
    if any(stream.net is not net for stream, _, _ in steps):
        raise ValueError("streams of different vocoders cannot share a pass")
    if len({id(stream) for stream, _, _ in steps}) < len(steps):
        raise ValueError("a stream may take only one step per pass")
    for stream, mel, end in steps:
        stream.check_step(len(mel), end)
    outs = net.push(
        [mel for _, mel, _ in steps],
        [stream.slots for stream, _, _ in steps],
        [end for _, _, end in steps],
    )
    return [
        stream.take(audio, len(mel), end)
        for (stream, mel, end), audio in zip(steps, outs, strict=True)
    ]
