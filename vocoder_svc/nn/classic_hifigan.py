"""jik876 HiFi-GAN generator (V1/V2/V3 configs), inference form with folded weights."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vocoder_svc.nn.layers import (
    PaddedConv1d,
    PhaseUpsampler,
    Span,
    channels_last_weight,
    masks_for,
    resblock_span,
    to_activation,
    transposed_conv,
)
from vocoder_svc.nn.streaming import (
    StreamConv,
    StreamMap,
    StreamMean,
    StreamNet,
    StreamOp,
    residual_chain,
)

__all__ = ["ClassicGenerator", "ClassicGeneratorConfig"]

_SLOPE = 0.1
"""LeakyReLU slope inside the network; the last activation uses torch's 0.01."""
_EDGE_KERNEL = 7
"""Kernel of conv_pre and conv_post (fixed in jik876's code)."""


@dataclass(frozen=True)
class ClassicGeneratorConfig:
    """The generator keys of a jik876-style HiFi-GAN config."""

    resblock: str
    """``"1"``: two convs per dilation (ResBlock1); ``"2"``: one conv per dilation."""
    upsample_rates: tuple[int, ...]
    """Upsampling factor per stage; their product is the hop length."""
    upsample_kernel_sizes: tuple[int, ...]
    """Transposed-conv kernel per stage."""
    upsample_initial_channel: int
    """Width after ``conv_pre``; halved by every stage."""
    resblock_kernel_sizes: tuple[int, ...]
    """Kernel of each of the parallel residual blocks."""
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    """Dilations of each residual block."""
    num_mels: int = 80
    """Mel bins of the input."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ClassicGeneratorConfig:
        """Pick the generator keys out of a (possibly training) config dict.

        Raises:
            ValueError: a key is missing or the shapes are inconsistent.
        """
        needed = (
            "resblock",
            "upsample_rates",
            "upsample_kernel_sizes",
            "upsample_initial_channel",
            "resblock_kernel_sizes",
            "resblock_dilation_sizes",
        )
        missing = [k for k in needed if k not in params]
        if missing:
            raise ValueError(f"HiFi-GAN config lacks {missing}")
        config = cls(
            resblock=str(params["resblock"]),
            upsample_rates=tuple(int(v) for v in params["upsample_rates"]),
            upsample_kernel_sizes=tuple(
                int(v) for v in params["upsample_kernel_sizes"]
            ),
            upsample_initial_channel=int(params["upsample_initial_channel"]),
            resblock_kernel_sizes=tuple(
                int(v) for v in params["resblock_kernel_sizes"]
            ),
            resblock_dilation_sizes=tuple(
                tuple(int(d) for d in ds) for ds in params["resblock_dilation_sizes"]
            ),
            num_mels=int(params.get("num_mels", 80)),
        )
        config.check()
        return config

    def check(self) -> None:
        """Raise ValueError for configs the generator cannot be built or run with."""
        if self.resblock not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', got {self.resblock!r}")
        if len(self.upsample_rates) != len(self.upsample_kernel_sizes):
            raise ValueError(
                "upsample_rates and upsample_kernel_sizes differ in length"
            )
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes differ")
        if not all(self.resblock_dilation_sizes):
            raise ValueError("every residual block needs at least one dilation")
        for rate, kernel in zip(
            self.upsample_rates, self.upsample_kernel_sizes, strict=True
        ):
            # An odd K - u makes each stage one sample longer than u * T, so the
            # output would not be frames * hop long.
            if kernel < rate or (kernel - rate) % 2:
                raise ValueError(
                    f"upsample kernel {kernel} must be >= rate {rate} with an even difference"
                )
        if self.upsample_initial_channel % 2 ** len(self.upsample_rates):
            raise ValueError(
                "upsample_initial_channel must halve evenly at every stage"
            )

    @property
    def hop_length(self) -> int:
        """Output samples per mel frame."""
        return math.prod(self.upsample_rates)


class _ResBlock(nn.Module):
    """ResBlock1 (``convs1``/``convs2`` pairs) or ResBlock2 (``convs``), by config."""

    def __init__(
        self, channels: int, kernel: int, dilations: Sequence[int], paired: bool
    ) -> None:
        super().__init__()
        first = [PaddedConv1d(channels, channels, kernel, d) for d in dilations]
        second = [PaddedConv1d(channels, channels, kernel, 1) for _ in dilations]
        if paired:
            self.convs1 = nn.ModuleList(first)
            self.convs2 = nn.ModuleList(second)
        else:
            self.convs = nn.ModuleList(first)
        # Typed views of the registered convs; ResBlock2 has no second conv.
        self.steps = [
            (c1, c2 if paired else None) for c1, c2 in zip(first, second, strict=True)
        ]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for c1, c2 in self.steps:
            xt = c1(F.leaky_relu(x, _SLOPE), mask)
            if c2 is not None:
                # Conv outputs are fresh tensors, so updating them in place is safe.
                xt = c2(F.leaky_relu(xt, _SLOPE, inplace=True), mask)
            x = xt.add_(x)
        return x


class ClassicGenerator(nn.Module):
    """HiFi-GAN ``Generator``: mel [B, num_mels, T] -> wave [B, 1, T * hop] in (-1, 1).

    Parameter names equal jik876's state-dict keys after weight-norm removal
    (``conv_pre.weight``, ``ups.0.weight``, ``resblocks.0.convs1.0.weight``, ...).
    """

    def __init__(self, cfg: ClassicGeneratorConfig) -> None:
        super().__init__()
        cfg.check()
        self.cfg = cfg
        width = cfg.upsample_initial_channel
        self.conv_pre = PaddedConv1d(cfg.num_mels, width, _EDGE_KERNEL)
        # Typed views of the registered modules, per stage, for forward().
        self.stages: list[tuple[nn.ConvTranspose1d, int, list[_ResBlock]]] = []
        ups, blocks = [], []
        for i, (u, k) in enumerate(
            zip(cfg.upsample_rates, cfg.upsample_kernel_sizes, strict=True)
        ):
            up = nn.ConvTranspose1d(
                width >> i, width >> (i + 1), k, u, padding=(k - u) // 2
            )
            channels_last_weight(up)
            stage_blocks = [
                _ResBlock(width >> (i + 1), kb, d, cfg.resblock == "1")
                for kb, d in zip(
                    cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes, strict=True
                )
            ]
            ups.append(up)
            blocks.extend(stage_blocks)
            self.stages.append((up, (k - u) // 2, stage_blocks))
        self.ups = nn.ModuleList(ups)
        self.resblocks = nn.ModuleList(blocks)
        last = width >> len(cfg.upsample_rates)
        self.conv_post = PaddedConv1d(last, 1, _EDGE_KERNEL)

    def forward(
        self, mel: torch.Tensor, lengths: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Synthesise a batch.

        Args:
            mel: [B, num_mels, T], in the weights' dtype.
            lengths: valid frames per item of a right-padded batch (see
                :class:`~vocoder_svc.nn.kantts_hifigan.KanttsGenerator`), or ``None``.

        Returns:
            [B, 1, T * hop_length] in that dtype.
        """
        masks = masks_for(lengths, self.cfg.upsample_rates, mel.device, mel.dtype)
        x = self.conv_pre(to_activation(mel), masks[0])
        for (up, pad, blocks), mask, up_mask in zip(
            self.stages, masks, masks[1:], strict=False
        ):
            x = F.leaky_relu(x, _SLOPE)
            x = transposed_conv(x if mask is None else x * mask, up, pad)
            acc: torch.Tensor = blocks[0](x, up_mask)
            for block in blocks[1:]:
                acc += block(x, up_mask)
            x = acc.div_(len(blocks))
        x = self.conv_post(F.leaky_relu(x), masks[-1])  # torch's default slope 0.01
        return torch.tanh(x)[:, :, 0, :]

    def stream_net(self) -> StreamNet:
        """This generator in streaming form (same weights, same samples)."""
        cfg = self.cfg

        def act(x: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(x, _SLOPE)

        ops: list[StreamOp] = [StreamConv.of(self.conv_pre)]
        for (up, pad, blocks), rate in zip(
            self.stages, cfg.upsample_rates, strict=True
        ):
            phase = PhaseUpsampler(rate, up.kernel_size[0], pad, None)
            mrf = [residual_chain(block.steps, act) for block in blocks]
            ops += [StreamMap(act), StreamConv.upsampler(phase, up), StreamMean(mrf)]
        ops += [StreamMap(F.leaky_relu), StreamConv.of(self.conv_post)]
        ops.append(StreamMap(torch.tanh))
        return StreamNet(ops, cfg.num_mels, cfg.hop_length)

    def context_frames(self) -> tuple[int, int]:
        """Input frames (before, after) that one output frame depends on."""
        cfg = self.cfg
        span = Span(0, cfg.hop_length - 1).conv(_EDGE_KERNEL, 1, False)
        for i in reversed(range(len(cfg.upsample_rates))):
            span = resblock_span(
                span,
                cfg.resblock_kernel_sizes,
                cfg.resblock_dilation_sizes,
                False,
                cfg.resblock == "1",
            )
            rate, kernel = cfg.upsample_rates[i], cfg.upsample_kernel_sizes[i]
            span = span.transposed(kernel, rate, (kernel - rate) // 2)
        span = span.conv(_EDGE_KERNEL, 1, False)
        return -span.lo, span.hi
