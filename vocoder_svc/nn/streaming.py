"""The generators in streaming form: each layer keeps the input it still needs.

A stream's mel arrives in chunks. Re-running the generator on every chunk plus
its receptive field recomputes that context for every chunk (about 3x the work of
one pass at 12-frame chunks). Here every conv instead keeps the last
``(kernel - 1) * dilation`` samples of its input between calls and runs only on
those plus the new input, a residual keeps the inputs its branch has not caught up
with, and a mean of blocks keeps each block's surplus output. A non-causal conv's
output lags its input by its right padding; the zeros it would see past the end
are appended when the stream ends. So the samples that come out equal the
whole-mel forward's, for any chunking, at the cost of one pass.

Activations of one stream travel time-major, ``[T, C]``; several streams' kept and
new inputs are laid end to end into one ``[1, C, 1, T]`` (channels-last) sequence
per conv. An output that straddles two streams is dropped, so streams of any
lengths and states share each forward with no padding. Only pure tensor code
lives here.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vocoder_svc.nn.layers import PaddedConv1d, PhaseUpsampler

__all__ = [
    "StreamConv",
    "StreamMap",
    "StreamMean",
    "StreamNet",
    "StreamOp",
    "StreamResidual",
    "residual_chain",
]

Slots = list[Any]
"""One stream's state: an entry per stateful layer, indexed by its ``slot``."""


class StreamOp(ABC):
    """A layer in streaming form, applied to several streams at once."""

    slot = -1
    """Where this layer's state sits in each stream's slots (-1: stateless)."""

    def bind(self, counter: itertools.count[int]) -> None:
        """Number this layer's state slot (and its children's); stateless: none."""
        return None

    def init(self, slots: Slots, like: torch.Tensor) -> None:
        """Fill this layer's slots for a new stream (tensors like ``like``)."""
        return None

    @abstractmethod
    def push(
        self, xs: list[torch.Tensor], streams: Sequence[Slots], ends: Sequence[bool]
    ) -> list[torch.Tensor]:
        """New outputs of each stream for its new inputs ``xs`` ``[n_i, C]``;
        ``ends[i]``: stream ``i`` ends after this input."""


def run(
    ops: Sequence[StreamOp],
    xs: list[torch.Tensor],
    streams: Sequence[Slots],
    ends: Sequence[bool],
) -> list[torch.Tensor]:
    """Push ``xs`` through ``ops`` in order."""
    for op in ops:
        xs = op.push(xs, streams, ends)
    return xs


class StreamMap(StreamOp):
    """A stateless, element-wise function (an activation)."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.fn = fn

    def push(
        self, xs: list[torch.Tensor], streams: Sequence[Slots], ends: Sequence[bool]
    ) -> list[torch.Tensor]:
        return [self.fn(x) for x in xs]


class StreamConv(StreamOp):
    """A stride-1 conv padded with ``left`` and ``right`` zeros, in streaming form.

    It keeps its last ``left + right`` input samples (at first, the ``left`` zeros
    of the padding). Each call convolves kept + new samples without padding, so its
    output lags its input by ``right`` samples until the end appends those zeros.
    ``phases > 1`` marks a :class:`~vocoder_svc.nn.layers.PhaseUpsampler` conv whose
    ``phases`` channel groups are interleaved into that many samples per input step.
    """

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        left: int,
        right: int,
        dilation: int = 1,
        phases: int = 1,
    ) -> None:
        """``weight`` is ``[C_out, C_in, 1, K]``; ``left + right == (K - 1) * dilation``."""
        if left + right != (weight.shape[-1] - 1) * dilation:
            raise ValueError("padding does not match the kernel's reach")
        self.weight, self.bias = weight, bias
        self.left, self.reach = left, left + right
        self.right, self.dilation, self.phases = right, dilation, phases
        self.channels = weight.shape[1]

    @classmethod
    def of(cls, conv: PaddedConv1d) -> StreamConv:
        """The streaming form of a same-length conv."""
        reach = (conv.kernel_size[0] - 1) * conv.dilation[0]
        left = reach if conv.causal else reach // 2
        return cls(
            conv.weight.unsqueeze(2), conv.bias, left, reach - left, conv.dilation[0]
        )

    @classmethod
    def upsampler(
        cls,
        phase: PhaseUpsampler,
        deconv: nn.ConvTranspose1d,
        conv: nn.Conv1d | None = None,
    ) -> StreamConv:
        """The streaming form of an upsampling stage (see :class:`PhaseUpsampler`)."""
        weight, bias = phase.to(deconv.weight).weight(deconv, conv)
        return cls(weight, bias, phase.left, phase.right, phases=phase.scale)

    def bind(self, counter: itertools.count[int]) -> None:
        self.slot = next(counter)

    def init(self, slots: Slots, like: torch.Tensor) -> None:
        slots[self.slot] = like.new_zeros(self.left, self.channels)

    def push(
        self, xs: list[torch.Tensor], streams: Sequence[Slots], ends: Sequence[bool]
    ) -> list[torch.Tensor]:
        seqs = []
        for x, slots, end in zip(xs, streams, ends, strict=True):
            parts = [slots[self.slot], x]
            if end and self.right:
                parts.append(x.new_zeros(self.right, self.channels))
            seq = torch.cat(parts)
            # A copy, so the kept tail does not hold the whole input alive.
            slots[self.slot] = seq[max(len(seq) - self.reach, 0) :].clone()
            seqs.append(seq)
        counts = [len(seq) - self.reach for seq in seqs]
        empty = xs[0].new_zeros(0, self.weight.shape[0] // self.phases)
        outs = [empty] * len(xs)
        live = [i for i, n in enumerate(counts) if n > 0]
        if not live:
            return outs
        # The streams' sequences end to end, one conv: an output reads only the
        # ``reach`` inputs from its own position on, so the first ``counts[i]``
        # outputs at stream i's offset are its own; the few that straddle two
        # streams are dropped. No padding is computed, whatever the lengths.
        packed = seqs[live[0]] if len(live) == 1 else torch.cat([seqs[i] for i in live])
        # [T, C] viewed as [1, C, 1, T] is the channels-last layout the convs like.
        y = F.conv2d(
            packed.T[None, :, None, :],
            self.weight,
            self.bias,
            dilation=(1, self.dilation),
        )
        y = y.permute(0, 2, 3, 1).reshape(-1, self.weight.shape[0])
        start = 0
        for i in live:
            # Phase groups side by side per step -> consecutive samples.
            outs[i] = y[start : start + counts[i]].reshape(counts[i] * self.phases, -1)
            start += len(seqs[i])
        return outs


class StreamResidual(StreamOp):
    """``x + branch(x)``: keeps the inputs the lagging branch has not reached."""

    def __init__(self, branch: Sequence[StreamOp]) -> None:
        self.branch = list(branch)

    def bind(self, counter: itertools.count[int]) -> None:
        self.slot = next(counter)
        for op in self.branch:
            op.bind(counter)

    def init(self, slots: Slots, like: torch.Tensor) -> None:
        slots[self.slot] = None
        for op in self.branch:
            op.init(slots, like)

    def push(
        self, xs: list[torch.Tensor], streams: Sequence[Slots], ends: Sequence[bool]
    ) -> list[torch.Tensor]:
        ys = run(self.branch, xs, streams, ends)
        outs = []
        for x, y, slots in zip(xs, ys, streams, strict=True):
            kept = slots[self.slot]
            pending = x if kept is None else torch.cat([kept, x])
            done = len(y)
            # The branch's output is a fresh tensor (or a view of one): add in place.
            outs.append(y.add_(pending[:done]))
            slots[self.slot] = pending[done:].clone()
        return outs


class StreamMean(StreamOp):
    """The mean of parallel branches fed the same input (HiFi-GAN's MRF).

    Branches lag differently; each keeps its outputs until all have reached them.
    They are summed in order and divided once, as the whole forward does.
    """

    def __init__(self, branches: Sequence[Sequence[StreamOp]]) -> None:
        self.branches = [list(b) for b in branches]

    def bind(self, counter: itertools.count[int]) -> None:
        self.slot = next(counter)
        for branch in self.branches:
            for op in branch:
                op.bind(counter)

    def init(self, slots: Slots, like: torch.Tensor) -> None:
        slots[self.slot] = [None] * len(self.branches)
        for branch in self.branches:
            for op in branch:
                op.init(slots, like)

    def push(
        self, xs: list[torch.Tensor], streams: Sequence[Slots], ends: Sequence[bool]
    ) -> list[torch.Tensor]:
        per_branch = [run(b, xs, streams, ends) for b in self.branches]
        outs = []
        for i, slots in enumerate(streams):
            held = [
                y[i] if kept is None else torch.cat([kept, y[i]])
                for kept, y in zip(slots[self.slot], per_branch, strict=True)
            ]
            ready = min(len(h) for h in held)
            acc = held[0][:ready].clone()
            for more in held[1:]:
                acc += more[:ready]
            outs.append(acc.div_(len(held)))
            slots[self.slot] = [h[ready:].clone() for h in held]
        return outs


def residual_chain(
    steps: Sequence[tuple[PaddedConv1d, PaddedConv1d | None]],
    act: Callable[[torch.Tensor], torch.Tensor],
) -> list[StreamOp]:
    """``x = x + c2(act(c1(act(x))))`` per step (``c2`` may be absent): a residual
    block of either generator."""
    ops: list[StreamOp] = []
    for c1, c2 in steps:
        branch: list[StreamOp] = [StreamMap(act), StreamConv.of(c1)]
        if c2 is not None:
            branch += [StreamMap(act), StreamConv.of(c2)]
        ops.append(StreamResidual(branch))
    return ops


class StreamNet:
    """A generator in streaming form: mel chunks of many streams in, audio out."""

    def __init__(self, ops: Sequence[StreamOp], num_mels: int, hop: int) -> None:
        self.ops = list(ops)
        counter = itertools.count()
        for op in self.ops:
            op.bind(counter)
        self.num_slots = next(counter)
        self.num_mels, self.hop = num_mels, hop

    def open(self, like: torch.Tensor) -> Slots:
        """State of a new stream, tensors of ``like``'s dtype and device."""
        slots: Slots = [None] * self.num_slots
        for op in self.ops:
            op.init(slots, like)
        return slots

    def push(
        self,
        mels: list[torch.Tensor],
        streams: Sequence[Slots],
        ends: Sequence[bool],
    ) -> list[torch.Tensor]:
        """New audio samples ``[m_i]`` of each stream for its new frames
        ``[n_i, num_mels]``; at a stream's end, everything it still owes."""
        return [y.reshape(-1) for y in run(self.ops, mels, streams, ends)]
