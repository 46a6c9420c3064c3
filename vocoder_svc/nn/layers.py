"""Shared layers and receptive-field arithmetic of the HiFi-GAN generators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PaddedConv1d",
    "PhaseUpsampler",
    "Span",
    "channels_last_weight",
    "interleave_phases",
    "masks_for",
    "resblock_span",
    "to_activation",
    "transposed_conv",
]


class PaddedConv1d(nn.Conv1d):
    """A stride-1 ``Conv1d`` whose output has the input's length.

    Causal convs see ``(k - 1) * d`` zeros on the left only; the others see half
    of that on each side (odd kernels only, as both reference code bases assert).
    The parameters are plain ``weight``/``bias`` of ``Conv1d`` shape, so a folded
    weight-norm state dict loads into it directly.

    Activations travel as channels-last 4-D tensors ``[B, C, 1, T]``: oneDNN's
    channels-last kernels run these convs much faster than ``conv1d`` does on
    ``[B, C, T]``, for the same arithmetic.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        causal: bool = False,
    ) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"conv kernel size must be odd, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        channels_last_weight(self)
        reach = (kernel_size - 1) * dilation
        # Causal: pad the full reach on both sides and drop the right overhang,
        # which avoids copying the input into a left-padded buffer.
        self.side_pad = reach if causal else reach // 2
        self.causal = causal

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Convolve ``x`` [B, C, 1, T]; ``mask`` [B, 1, 1, T] zeroes padded frames first.

        Zeroing what lies past each item's end makes a batched run see the same
        zeros that a run of that item alone sees as padding.
        """
        if mask is not None:
            x = x * mask
        y = F.conv2d(
            x,
            self.weight.unsqueeze(2),
            self.bias,
            dilation=(1, self.dilation[0]),
            padding=(0, self.side_pad),
        )
        return y[..., : x.shape[-1]] if self.causal else y


def channels_last_weight(conv: nn.Conv1d | nn.ConvTranspose1d) -> None:
    """Store ``conv.weight`` so that its 4-D view is channels-last contiguous.

    The shape (and so the state dict) is unchanged; ``load_state_dict`` copies
    into this layout, and the convs then need no per-call weight reorder.
    """
    weight = (
        conv.weight.detach().unsqueeze(2).contiguous(memory_format=torch.channels_last)
    )
    conv.weight = nn.Parameter(
        weight.squeeze(2), requires_grad=conv.weight.requires_grad
    )


def transposed_conv(
    x: torch.Tensor, deconv: nn.ConvTranspose1d, padding: int
) -> torch.Tensor:
    """``deconv`` applied to a channels-last ``[B, C, 1, T]`` activation."""
    return F.conv_transpose2d(
        x,
        deconv.weight.unsqueeze(2),
        deconv.bias,
        stride=(1, deconv.stride[0]),
        padding=(0, padding),
    )


def to_activation(mel: torch.Tensor) -> torch.Tensor:
    """``[B, C, T]`` as the channels-last ``[B, C, 1, T]`` layout the layers use."""
    return mel.unsqueeze(2).contiguous(memory_format=torch.channels_last)


class PhaseUpsampler(nn.Module):
    """A stage's upsampling as one frame-rate conv with a channel group per phase.

    KAN-TTS sums two branches, a repeat branch (nearest x s, then a conv) and a
    transposed conv; jik876 has the transposed conv alone. Both are linear, and
    output sample ``j*s + r`` reads only a few frames around ``j``, so the stage is
    one conv at the frame rate with ``s * C_out`` channels (group ``r`` computes
    phase ``r``) whose kernel gathers the branches' taps, followed by interleaving
    the phases. Same maths as the reference, at about a third of the arithmetic and
    without the upsampled copy, and a plain conv is what streaming state needs.
    It has no parameters: :meth:`weight` assembles the kernel from the branches'
    weights (a few small ops), so it always follows the loaded state dict.
    """

    def __init__(
        self,
        scale: int,
        kernel: int,
        deconv_pad: int,
        conv_kernel: int | None,
        causal: bool = False,
    ) -> None:
        """``conv_kernel`` is the repeat branch's kernel, ``None`` without one."""
        super().__init__()
        taps = {
            "dec_taps": (
                kernel,
                [
                    (k, r, (r + deconv_pad - k) // scale)
                    for k in range(kernel)
                    for r in range(scale)
                    if (r + deconv_pad - k) % scale == 0
                ],
            )
        }
        if conv_kernel is not None:
            left = conv_kernel - 1 if causal else (conv_kernel - 1) // 2
            taps["rep_taps"] = (
                conv_kernel,
                [
                    (k, r, (r - left + k) // scale)
                    for k in range(conv_kernel)
                    for r in range(scale)
                ],
            )
        offsets = [o for _, listed in taps.values() for _, _, o in listed]
        self.scale = scale
        # Frames read before and after frame j (zero taps widen it to include j).
        self.left, self.right = max(0, -min(offsets)), max(0, max(offsets))
        width = self.left + self.right + 1
        for name, (n_taps, listed) in taps.items():
            table = torch.zeros(n_taps, scale, width)
            for k, r, o in listed:
                table[k, r, o + self.left] = 1.0
            self.register_buffer(name, table, persistent=False)
        self.has_rep = conv_kernel is not None

    def weight(
        self, deconv: nn.ConvTranspose1d, conv: nn.Conv1d | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The frame-rate conv's weight [s * C_out, C_in, 1, width] (channels-last)
        and bias [s * C_out]; output channel ``r * C_out + o`` is phase ``r``."""
        # Built in [r, out, tap, in] order, which is the channels-last layout of the
        # [s * C_out, C_in, 1, taps] conv weight, so no reorder copy is needed.
        weight = torch.einsum("iok,krn->roni", deconv.weight, self.dec_taps)
        bias = deconv.bias
        if self.has_rep:
            if conv is None:
                raise ValueError("this stage has a repeat branch: pass its conv")
            weight = weight + torch.einsum("oik,krn->roni", conv.weight, self.rep_taps)
            bias = None if bias is None or conv.bias is None else bias + conv.bias
        if bias is None:
            raise ValueError("the upsampling branches must have biases")
        weight = weight.flatten(0, 1).permute(0, 2, 1).unsqueeze(2)
        return weight, bias.repeat(self.scale)

    def forward(
        self,
        x: torch.Tensor,
        deconv: nn.ConvTranspose1d,
        conv: nn.Conv1d | None = None,
    ) -> torch.Tensor:
        """``x`` [B, C_in, 1, T] (already activated) -> [B, C_out, 1, T * s]."""
        weight, bias = self.weight(deconv, conv)
        pad = max(self.left, self.right)
        y = F.conv2d(x, weight, bias, padding=(0, pad))
        start = pad - self.left
        return interleave_phases(y[..., start : start + x.shape[-1]], self.scale)


def interleave_phases(y: torch.Tensor, scale: int) -> torch.Tensor:
    """[B, s * C, 1, T] phase groups (channels-last) -> [B, C, 1, T * s]."""
    batch, channels, _, steps = y.shape
    # Channels-last storage is [B, T, s * C]: interleaving phases is a view.
    y = y.permute(0, 2, 3, 1).reshape(batch, 1, steps * scale, channels // scale)
    return y.permute(0, 3, 1, 2)


def masks_for(
    lengths: Sequence[int] | None,
    scales: Sequence[int],
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> list[torch.Tensor | None]:
    """Validity masks [B, 1, 1, T_i] at the frame rate and after each upsampling stage.

    ``dtype`` is the activations' (a float32 mask would promote bfloat16 or float16
    activations to float32). Returns ``None`` entries when ``lengths`` is ``None`` (a
    single unpadded input).
    """
    if lengths is None:
        return [None] * (len(scales) + 1)
    frames = torch.tensor(list(lengths), device=device)
    out: list[torch.Tensor | None] = []
    factor = 1
    for scale in (1, *scales):
        factor *= scale
        steps = torch.arange(int(frames.max()) * factor, device=device)
        out.append(
            (steps[None, :] < frames[:, None] * factor).to(dtype)[:, None, None, :]
        )
    return out


@dataclass(frozen=True)
class Span:
    """An inclusive range of time positions ``[lo, hi]`` at one layer's resolution.

    Walking a span backwards through the layers gives the input frames an output
    depends on; the generators use it to size the streaming context.
    """

    lo: int
    hi: int

    def conv(self, kernel_size: int, dilation: int, causal: bool) -> Span:
        """Positions feeding this span through a same-length conv."""
        reach = (kernel_size - 1) * dilation
        if causal:
            return Span(self.lo - reach, self.hi)
        return Span(self.lo - reach // 2, self.hi + reach // 2)

    def union(self, other: Span) -> Span:
        """Smallest span covering both."""
        return Span(min(self.lo, other.lo), max(self.hi, other.hi))

    def nearest_up(self, scale: int) -> Span:
        """Frames feeding this span through nearest-neighbour upsampling by ``scale``."""
        return Span(self.lo // scale, self.hi // scale)

    def transposed(self, kernel_size: int, stride: int, padding: int) -> Span:
        """Frames feeding this span through a ConvTranspose1d.

        Input frame ``j`` reaches output ``t`` when ``0 <= t + padding - j*stride < K``.
        """
        lo = -((kernel_size - 1 - self.lo - padding) // stride)  # ceil division
        return Span(lo, (self.hi + padding) // stride)


def resblock_span(
    span: Span,
    kernel_sizes: Sequence[int],
    dilations: Sequence[Sequence[int]],
    causal: bool,
    paired: bool = True,
) -> Span:
    """Span before a set of parallel residual blocks whose outputs are averaged.

    Each block applies, per dilation ``d``, a conv with dilation ``d`` and (when
    ``paired``) a second one with dilation 1, all with the block's kernel size.
    """
    out = span
    for kernel, block_dilations in zip(kernel_sizes, dilations, strict=True):
        inner = span
        for dilation in block_dilations:
            inner = inner.conv(kernel, dilation, causal)
            if paired:
                inner = inner.conv(kernel, 1, causal)
        out = out.union(inner)
    return out
