"""KAN-TTS HiFi-GAN generator (causal and non-causal), inference form with folded weights."""

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
)
from vocoder_svc.nn.streaming import (
    StreamConv,
    StreamMap,
    StreamMean,
    StreamNet,
    StreamOp,
    residual_chain,
)

__all__ = ["KanttsGenerator", "KanttsGeneratorConfig"]

_SCALAR_KEYS = ("in_channels", "out_channels", "channels", "kernel_size", "causal")
_TUPLE_KEYS = ("upsample_scales", "upsample_kernal_sizes", "resblock_kernel_sizes")
# ``bias`` and ``use_weight_norm`` change nothing at inference: the reference always
# builds biased, weight-normed convs whatever they say.
_OTHER_KEYS = (
    "resblock_dilations",
    "repeat_upsample",
    "nonlinear_activation",
    "nonlinear_activation_params",
    "nsf_params",
    "bias",
    "use_weight_norm",
)


@dataclass(frozen=True)
class KanttsGeneratorConfig:
    """``Model.Generator.params`` of a KAN-TTS HiFi-GAN config; defaults as in KAN-TTS."""

    in_channels: int = 80
    """Mel bins of the input."""
    out_channels: int = 1
    """Output channels; only 1 (no PQMF sub-bands) is supported."""
    channels: int = 512
    """Width after ``conv_pre``; halved by every upsampling stage."""
    kernel_size: int = 7
    """Kernel of conv_pre, conv_post and the repeat-upsampling convs."""
    upsample_scales: tuple[int, ...] = (8, 8, 2, 2)
    """Upsampling factor per stage; their product is the hop length."""
    upsample_kernal_sizes: tuple[int, ...] = (16, 16, 4, 4)
    """Transposed-conv kernel per stage (the reference's spelling)."""
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    """Kernel of each of the parallel residual blocks."""
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    """Dilations of each residual block."""
    causal: bool = True
    """Left-only padding and zero look-ahead when true."""
    negative_slope: float = 0.1
    """LeakyReLU slope (``nonlinear_activation_params.negative_slope``)."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> KanttsGeneratorConfig:
        """Build from the yaml dict, rejecting settings this port does not implement.

        Raises:
            ValueError: an unsupported or inconsistent setting, named in the message.
        """
        unknown = sorted(set(params) - {*_SCALAR_KEYS, *_TUPLE_KEYS, *_OTHER_KEYS})
        if unknown:
            raise ValueError(f"unknown generator params {unknown}")
        if params.get("nsf_params") is not None:
            raise ValueError("NSF generators (nsf_params) are not supported")
        if params.get("repeat_upsample", True) is not True:
            # The reference indexes the repeat branch unconditionally, so it cannot run.
            raise ValueError("repeat_upsample: false is not supported")
        if params.get("nonlinear_activation", "LeakyReLU") != "LeakyReLU":
            raise ValueError(
                f"activation {params['nonlinear_activation']!r} is not supported "
                "(only LeakyReLU)"
            )
        act = params.get("nonlinear_activation_params") or {"negative_slope": 0.1}
        kwargs: dict[str, Any] = {k: params[k] for k in _SCALAR_KEYS if k in params}
        for key in _TUPLE_KEYS:
            if key in params:
                kwargs[key] = tuple(int(v) for v in params[key])
        if "resblock_dilations" in params:
            kwargs["resblock_dilations"] = tuple(
                tuple(int(d) for d in ds) for ds in params["resblock_dilations"]
            )
        config = cls(negative_slope=float(act.get("negative_slope", 0.01)), **kwargs)
        config.check()
        return config

    def check(self) -> None:
        """Raise ValueError for shapes the generator cannot be built or run with."""
        if self.out_channels != 1:
            raise ValueError(
                "out_channels must be 1 (PQMF sub-bands are not supported)"
            )
        if len(self.upsample_scales) != len(self.upsample_kernal_sizes):
            raise ValueError("upsample_scales and upsample_kernal_sizes differ")
        if len(self.resblock_kernel_sizes) != len(self.resblock_dilations):
            raise ValueError("resblock_kernel_sizes and resblock_dilations differ")
        for scale, kernel in zip(
            self.upsample_scales, self.upsample_kernal_sizes, strict=True
        ):
            # The reference crops K - s samples off a causal transposed conv, which
            # returns nothing when K == s; a smaller K leaves gaps in the output.
            smallest = scale + 1 if self.causal else scale
            if kernel < smallest:
                raise ValueError(
                    f"upsample kernel {kernel} too small for scale {scale}"
                )
        if not all(self.resblock_dilations):
            raise ValueError("every residual block needs at least one dilation")
        if self.channels % 2 ** len(self.upsample_scales):
            raise ValueError("channels must halve evenly at every upsampling stage")

    @property
    def hop_length(self) -> int:
        """Output samples per mel frame."""
        return math.prod(self.upsample_scales)


class _Conv(nn.Module):
    """Holds a conv under the reference's ``conv1d`` name."""

    def __init__(self, conv: PaddedConv1d) -> None:
        super().__init__()
        self.conv1d = conv


class _Deconv(nn.Module):
    """Holds the transposed conv under the reference's ``deconv`` name."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, pad: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose1d(cin, cout, kernel, stride, padding=pad)
        channels_last_weight(self.deconv)


def _at(index: int, module: nn.Module) -> nn.ModuleList:
    """``module`` at ``index``, after parameter-free placeholders.

    Stands in for the reference's ``Sequential(activation, ..., conv)`` so that the
    state-dict keys keep its indices (``transpose_upsamples.0.1.deconv.weight``).
    """
    return nn.ModuleList([*(nn.Identity() for _ in range(index)), module])


class _ResidualBlock(nn.Module):
    """``x = x + c2(lrelu(c1(lrelu(x))))`` for each dilation (c1 dilated, c2 not)."""

    def __init__(
        self,
        cfg: KanttsGeneratorConfig,
        channels: int,
        kernel: int,
        dilations: Sequence[int],
    ) -> None:
        super().__init__()
        self.slope = cfg.negative_slope
        c1 = [
            PaddedConv1d(channels, channels, kernel, d, cfg.causal) for d in dilations
        ]
        c2 = [
            PaddedConv1d(channels, channels, kernel, 1, cfg.causal) for _ in dilations
        ]
        self.convs1 = nn.ModuleList(_Conv(c) for c in c1)
        self.convs2 = nn.ModuleList(_Conv(c) for c in c2)
        self.pairs = list(
            zip(c1, c2, strict=True)
        )  # typed views of the registered convs

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        x_act: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x_act`` may pass ``lrelu(x)`` in, computed once for the parallel blocks."""
        for c1, c2 in self.pairs:
            xt = c1(F.leaky_relu(x, self.slope) if x_act is None else x_act, mask)
            x_act = None
            # Conv outputs are fresh tensors, so updating them in place is safe.
            xt = c2(F.leaky_relu(xt, self.slope, inplace=True), mask)
            x = xt.add_(x)
        return x


class KanttsGenerator(nn.Module):
    """KAN-TTS ``Generator``: mel [B, in_channels, T] -> wave [B, 1, T * hop] in (-1, 1).

    Module names equal the reference's state-dict keys after weight-norm removal
    (``conv_pre.conv1d.weight``, ``transpose_upsamples.0.1.deconv.weight``, ...).
    """

    def __init__(self, cfg: KanttsGeneratorConfig) -> None:
        super().__init__()
        cfg.check()
        self.cfg = cfg
        k, causal = cfg.kernel_size, cfg.causal
        self.conv_pre = _Conv(PaddedConv1d(cfg.in_channels, cfg.channels, k, 1, causal))
        self.transpose_upsamples = nn.ModuleList()
        self.repeat_upsamples = nn.ModuleList()
        self.conv_blocks = nn.ModuleList()
        self.phase_upsamplers = nn.ModuleList()  # parameter-free, not in the state dict
        # Typed views of the registered modules, per stage, for forward().
        self.stages: list[
            tuple[PhaseUpsampler, _Conv, _Deconv, list[_ResidualBlock]]
        ] = []
        self.deconv_pads: list[int] = []
        for i, (scale, kernel) in enumerate(
            zip(cfg.upsample_scales, cfg.upsample_kernal_sizes, strict=True)
        ):
            cin, cout = cfg.channels >> i, cfg.channels >> (i + 1)
            self.deconv_pads.append(0 if causal else (kernel - scale) // 2)
            phase = PhaseUpsampler(scale, kernel, self.deconv_pads[i], k, causal)
            rep = _Conv(PaddedConv1d(cin, cout, k, 1, causal))
            deconv = _Deconv(cin, cout, kernel, scale, self.deconv_pads[i])
            blocks = [
                _ResidualBlock(cfg, cout, kb, dil)
                for kb, dil in zip(
                    cfg.resblock_kernel_sizes, cfg.resblock_dilations, strict=True
                )
            ]
            self.phase_upsamplers.append(phase)
            self.repeat_upsamples.append(_at(2, rep))
            self.transpose_upsamples.append(_at(1, deconv))
            self.conv_blocks.extend(blocks)
            self.stages.append((phase, rep, deconv, blocks))
        last = cfg.channels >> len(cfg.upsample_scales)
        self.conv_post = _Conv(PaddedConv1d(last, cfg.out_channels, k, 1, causal))

    def forward(
        self, mel: torch.Tensor, lengths: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Synthesise a batch.

        Args:
            mel: [B, in_channels, T], in the weights' dtype.
            lengths: valid frames per item when the batch is right-padded; positions
                past an item's end are zeroed before every conv so they never leak
                into its valid samples. ``None`` for an unpadded input.

        Returns:
            [B, 1, T * hop_length] in that dtype.
        """
        slope = self.cfg.negative_slope
        masks = masks_for(lengths, self.cfg.upsample_scales, mel.device, mel.dtype)
        x = self.conv_pre.conv1d(to_activation(mel), masks[0])
        for (phase, rep, deconv, blocks), mask, up_mask in zip(
            self.stages,
            masks,
            masks[1:],
            strict=False,  # one mask more than stages
        ):
            x = torch.sin(x) + x
            # LeakyReLU commutes with nearest upsampling, so both branches share it.
            act = F.leaky_relu(x, slope)
            act = act if mask is None else act * mask
            x = phase(act, deconv.deconv, rep.conv1d)
            # Mean of the parallel residual blocks, summed in the reference's order.
            x_act = F.leaky_relu(x, slope)
            acc: torch.Tensor = blocks[0](x, up_mask, x_act)
            for block in blocks[1:]:
                acc += block(x, up_mask, x_act)
            x = acc.div_(len(blocks))
        # The last activation uses torch's default slope (0.01), as the reference does.
        x = self.conv_post.conv1d(F.leaky_relu(x), masks[-1])
        return torch.tanh(x)[:, :, 0, :]

    def stream_net(self) -> StreamNet:
        """This generator in streaming form (same weights, same samples)."""
        cfg = self.cfg

        def act(x: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(x, cfg.negative_slope)

        ops: list[StreamOp] = [StreamConv.of(self.conv_pre.conv1d)]
        for phase, rep, deconv, blocks in self.stages:
            up = StreamConv.upsampler(phase, deconv.deconv, rep.conv1d)
            mrf = [
                residual_chain([(c1, c2) for c1, c2 in block.pairs], act)
                for block in blocks
            ]
            ops += [StreamMap(lambda x: torch.sin(x) + x), StreamMap(act), up]
            ops.append(StreamMean(mrf))
        ops += [StreamMap(F.leaky_relu), StreamConv.of(self.conv_post.conv1d)]
        ops.append(StreamMap(torch.tanh))
        return StreamNet(ops, cfg.in_channels, cfg.hop_length)

    def context_frames(self) -> tuple[int, int]:
        """Input frames (before, after) that one output frame depends on.

        Walks the samples of output frame 0 back through every layer. The causal
        generator gives ``after == 0``.
        """
        cfg = self.cfg
        causal, k = cfg.causal, cfg.kernel_size
        span = Span(0, cfg.hop_length - 1).conv(k, 1, causal)
        for i in reversed(range(len(cfg.upsample_scales))):
            scale = cfg.upsample_scales[i]
            span = resblock_span(
                span, cfg.resblock_kernel_sizes, cfg.resblock_dilations, causal
            )
            rep = span.conv(k, 1, causal).nearest_up(scale)
            up = span.transposed(
                cfg.upsample_kernal_sizes[i], scale, self.deconv_pads[i]
            )
            span = rep.union(up)
        span = span.conv(k, 1, causal)
        return -span.lo, span.hi
