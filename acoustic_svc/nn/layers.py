"""Building blocks of KAN-TTS Sambert as pure modules (attention, FFN, FSMN, prenet).

Parameter names match the KAN-TTS state dict so checkpoints load without renaming.
Dropout is omitted: these modules are for inference and training code adds its own
regularisation where it needs it (see ``training/``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar, overload

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FFTBlock",
    "FsmnEncoder",
    "Prenet",
    "TypedModuleList",
    "sinusoid_table",
]

LN_EPS = 1e-6

M = TypeVar("M", bound=nn.Module)


class TypedModuleList(nn.ModuleList, Generic[M]):
    """An ``nn.ModuleList`` whose items are all ``M``, so indexing and iteration are typed.

    ``nn.ModuleList`` hands out plain ``Module``s, so ``layers[i].w_1`` is
    ``Tensor | Module`` to a type checker. Only the signatures below differ: they
    exist for the type checker alone, so at run time this *is* ``nn.ModuleList``
    (same state-dict keys, same cost per access, nothing added to the hot loops).
    """

    if TYPE_CHECKING:

        def __init__(self, modules: Iterable[M] = ...) -> None: ...

        @overload
        def __getitem__(self, idx: slice) -> TypedModuleList[M]: ...

        @overload
        def __getitem__(self, idx: int) -> M: ...

        def __getitem__(self, idx: int | slice) -> M | TypedModuleList[M]: ...

        def __iter__(self) -> Iterator[M]: ...


def sinusoid_table(n_position: int, depth: int) -> torch.Tensor:
    """Text position table [n_position, depth]: sin in the first half, cos in the second.

    Angles are ``p / 10000^(j / (depth/2 - 1))`` for 1-based p; built in float64 and
    cast, because float32 drifts by ~5e-5 near position 800 (kantts_model.md §9.4).
    """
    half = depth // 2
    pos = torch.arange(1, n_position + 1, dtype=torch.float64)[:, None]
    j = torch.arange(half, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, j / (depth / 2 - 1))
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1).float()


class Prenet(nn.Module):
    """Linear+ReLU per hidden size, then an optional output Linear.

    Held in ``fcs`` with KAN-TTS's indices (0, 3, 6...: each hidden layer occupied
    three slots, Linear/ReLU/Dropout, in the reference).
    """

    def __init__(self, in_units: int, hidden: list[int], out_units: int = 0) -> None:
        super().__init__()
        self.fcs = nn.ModuleDict()
        dims = [in_units, *hidden]
        for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
            self.fcs[str(3 * i)] = nn.Linear(d_in, d_out)
        self.n_hidden = len(hidden)
        if out_units:
            self.fcs[str(3 * len(hidden))] = nn.Linear(hidden[-1], out_units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.fcs.values()):
            x = layer(x)
            if i < self.n_hidden:
                x = F.relu(x)
        return x


class PositionwiseConvFFN(nn.Module):
    """Pre-LN conv feed-forward with residual: LN -> Conv(k0) -> ReLU -> Conv(k1) -> +x."""

    def __init__(self, d_model: int, d_inner: int, kernels: tuple[int, int]) -> None:
        super().__init__()
        self.w_1 = nn.Conv1d(
            d_model, d_inner, kernels[0], padding=(kernels[0] - 1) // 2
        )
        self.w_2 = nn.Conv1d(
            d_inner, d_model, kernels[1], padding=(kernels[1] - 1) // 2
        )
        self.layer_norm = nn.LayerNorm(d_model, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, T, d] -> [B, T, d]."""
        y: torch.Tensor = self.layer_norm(x).transpose(1, 2)
        y = self.w_2(F.relu(self.w_1(y))).transpose(1, 2)
        return y + x


class MultiHeadSelfAttention(nn.Module):
    """Pre-LN multi-head self-attention; residual only when d_in == d_model."""

    def __init__(self, n_head: int, d_in: int, d_model: int, d_head: int) -> None:
        super().__init__()
        self.n_head, self.d_head = n_head, d_head
        self.layer_norm = nn.LayerNorm(d_in, eps=LN_EPS)
        self.w_qkv = nn.Linear(d_in, 3 * n_head * d_head)
        self.fc = nn.Linear(n_head * d_head, d_model)
        self.residual = d_in == d_model

    def forward(
        self, x: torch.Tensor, key_padding: torch.Tensor | None
    ) -> torch.Tensor:
        """x: [B, T, d_in]; key_padding: bool [B, T], True at padding (or None)."""
        b, t, _ = x.shape
        qkv: torch.Tensor = self.w_qkv(self.layer_norm(x)).view(
            b, t, 3, self.n_head, self.d_head
        )
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, T, dh]
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)
        if key_padding is not None:
            scores = scores.masked_fill(key_padding[:, None, None, :], float("-inf"))
        out: torch.Tensor = torch.softmax(scores, dim=-1) @ v
        out = self.fc(out.transpose(1, 2).reshape(b, t, -1))
        return out + x if self.residual else out


class FFTBlock(nn.Module):
    """Self-attention then conv FFN, with padded frames zeroed after each."""

    def __init__(
        self,
        d_in: int,
        d_model: int,
        n_head: int,
        d_inner: int,
        kernels: tuple[int, int],
    ) -> None:
        super().__init__()
        self.slf_attn = MultiHeadSelfAttention(n_head, d_in, d_model, d_model // n_head)
        self.pos_ffn = PositionwiseConvFFN(d_model, d_inner, kernels)

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        x = self.slf_attn(x, padding)
        x = _zero_padding(x, padding)
        return _zero_padding(self.pos_ffn(x), padding)


def _zero_padding(x: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
    return x if padding is None else x.masked_fill(padding[..., None], 0.0)


class FsmnFFN(nn.Module):
    """1x1 Conv (bias) -> ReLU -> 1x1 Conv (no bias): the FSMN layer's context net."""

    def __init__(self, d_in: int, d_inner: int, d_out: int) -> None:
        super().__init__()
        self.w_1 = nn.Conv1d(d_in, d_inner, 1)
        self.w_2 = nn.Conv1d(d_inner, d_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, C, T] channels-first."""
        y: torch.Tensor = self.w_2(F.relu(self.w_1(x)))
        return y


class MemoryBlock(nn.Module):
    """Depthwise conv memory over a shifted window, plus its input."""

    def __init__(self, d: int, filter_size: int, shift: int) -> None:
        super().__init__()
        self.lp = round((filter_size - 1) / 2) + max(shift, 0)
        self.rp = (filter_size - 1) // 2 - max(shift, 0)
        self.conv_dw = nn.Conv1d(d, d, filter_size, groups=d, bias=False)


class FsmnEncoder(nn.Module):
    """FSMN encoder V2 (predictors and postnet); channels-first to avoid transposes.

    Layer i: ``ctx = ffn_i(x)``; ``mem = ctx + dwconv(pad(ctx))``; ``x = mem (+ x)``.
    Frames outside [0, T) read as zeros, which is also what the reference's
    padding masks amount to at inference.
    """

    def __init__(
        self,
        filter_size: int,
        num_layers: int,
        d_in: int,
        d_memory: int,
        d_inner: int,
        shift: int,
    ) -> None:
        super().__init__()
        self.ffn_lst = TypedModuleList(
            FsmnFFN(d_in if i == 0 else d_memory, d_inner, d_memory)
            for i in range(num_layers)
        )
        self.memory_block_lst = TypedModuleList(
            MemoryBlock(d_memory, filter_size, shift) for _ in range(num_layers)
        )

    def layer(self, i: int, x: torch.Tensor, left: int, right: int) -> torch.Tensor:
        """Run layer i on channels-first ``x`` [B, C, left + n + right].

        ``left``/``right`` frames are real context around the n frames wanted; where
        the block needs more context than given (a sequence edge), zeros stand in,
        exactly as the reference pads. Returns [B, d_memory, n].
        """
        block = self.memory_block_lst[i]
        total = x.shape[-1]
        n = total - left - right
        lo, hi = max(left - block.lp, 0), total - max(right - block.rp, 0)
        x, left, right = x[..., lo:hi], left - lo, right - (total - hi)
        ctx = self.ffn_lst[i](x)
        mem: torch.Tensor = block.conv_dw(
            F.pad(ctx, (block.lp - left, block.rp - right))
        )
        mem = mem + ctx[..., left : left + n]
        if mem.shape[1] == x.shape[1]:
            mem = mem + x[..., left : left + n]
        return mem

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, T, d_in] -> [B, T, d_memory], whole sequence at once."""
        y = x.transpose(1, 2)
        for i in range(len(self.ffn_lst)):
            y = self.layer(i, y, 0, 0)
        return y.transpose(1, 2)
