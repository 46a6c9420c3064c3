"""PNCA autoregressive mel decoder with incremental, fixed-window attention.

The reference rebuilds full attention masks and concatenates key/value caches at every
step. Here each sentence owns one preallocated buffer holding both attention sides of
every layer (a :class:`~acoustic_svc.nn.decoder_state.DecoderState`):

    kv[l] : [2 (key/value), 2 (x self-cache / h memory), H, bw + N, d_head]

The x side stores step j at position j + bw (positions < bw stay masked), the h side
stores memory step j at position j (positions >= N stay masked), so at step i both
windows are the *same* slice ``[i, i + bw]`` and one batched matmul serves both
attentions. The two outputs go through ``[fc_x | fc_h]`` fused into one Linear.

Several sentences (of different lengths, band widths and step indices) advance
together: each step is one forward pass with [B, d] activations, run in a shared
workspace where every sentence's window is the same slice (see
:mod:`~acoustic_svc.nn.decoder_state`). At B = 1 this is the single-sentence loop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.decoder_state import DecoderState, RoundWorkspace
from acoustic_svc.nn.layers import LN_EPS, Prenet, TypedModuleList

__all__ = ["ROUND_STEPS", "PncaDecoder"]

ROUND_STEPS = 16
"""Most steps per round: bounds the batch workspace (and the copies into it) for long
chunks, while a round of 4-step chunks pays its set-up once per 4 steps."""


class PncaAttention(nn.Module):
    """Parameters of one layer's two attentions (self over steps, cross over memory)."""

    def __init__(self, n_head: int, d_model: int, d_mem: int, d_head: int) -> None:
        super().__init__()
        self.layer_norm = nn.LayerNorm(d_model, eps=LN_EPS)
        self.w_x_qkv = nn.Linear(d_model, 3 * n_head * d_head)
        self.fc_x = nn.Linear(n_head * d_head, d_model)
        self.w_h_kv = nn.Linear(d_mem, 2 * n_head * d_head)
        self.fc_h = nn.Linear(n_head * d_head, d_model)


class PncaFFN(nn.Module):
    """Pre-LN 1x1-conv feed-forward (kept as Conv1d for the checkpoint's shapes)."""

    def __init__(self, d_model: int, d_inner: int) -> None:
        super().__init__()
        self.w_1 = nn.Conv1d(d_model, d_inner, 1)
        self.w_2 = nn.Conv1d(d_inner, d_model, 1)
        self.layer_norm = nn.LayerNorm(d_model, eps=LN_EPS)


class PncaBlock(nn.Module):
    def __init__(self, cfg: SambertConfig) -> None:
        super().__init__()
        d, h = cfg.decoder_num_units, cfg.decoder_num_heads
        self.pnca_attn = PncaAttention(h, d, cfg.memory_dim, d // h)
        self.pos_ffn = PncaFFN(d, cfg.decoder_ffn_inner_dim)


class HybridAttentionDecoder(nn.Module):
    """``mel_dec`` in the state dict: prenet, input projection, PNCA layers, output."""

    def __init__(self, cfg: SambertConfig) -> None:
        super().__init__()
        d = cfg.decoder_num_units
        self.prenet = Prenet(cfg.num_mels, list(cfg.decoder_prenet_units), d)
        self.dec_in_proj = nn.Linear(d + cfg.memory_dim, d)
        self.pnca = TypedModuleList(
            PncaBlock(cfg) for _ in range(cfg.decoder_num_layers)
        )
        self.ln = nn.LayerNorm(d, eps=LN_EPS)
        self.dec_out_proj = nn.Linear(d, cfg.num_mels * cfg.outputs_per_step)


class PncaDecoder(nn.Module):
    """``mel_decoder``: runs ``mel_dec`` step by step, yielding r frames per step."""

    def __init__(self, cfg: SambertConfig) -> None:
        super().__init__()
        self.mel_dec = HybridAttentionDecoder(cfg)
        self.n_head = cfg.decoder_num_heads
        self.d_head = cfg.decoder_num_units // cfg.decoder_num_heads
        self.d_model = cfg.decoder_num_units
        self.num_mels = cfg.num_mels
        self.memory_dim = cfg.memory_dim
        self.frame_dim = cfg.num_mels * cfg.outputs_per_step
        """Width of one step's output: r frames."""
        self._fused: list[tuple[torch.Tensor, ...]] | None = None

    def fuse(self) -> None:
        """Precompute the fused per-layer weights used by :meth:`steps`.

        ``qkv`` gets its query rows twice, so one matmul yields the query for both
        attention sides already laid out as a [2H, 1, d_head] batch; ``fc`` is
        ``[fc_x | fc_h]`` with the biases summed. Weights are stored transposed
        for ``addmm``: ``F.linear`` would add a transpose and a bias broadcast per
        call, and the step loop makes ~50 such calls per step. They are contiguous
        copies, not views: a [1, in] x [in, out] GEMV read row-major measured up to
        2x faster on one thread than through a transposed view (one more copy of
        the decoder weights, ~17 MB at full size). Call again if weights change.
        """
        d = self.d_model
        fused: list[tuple[torch.Tensor, ...]] = []
        for block in self.mel_dec.pnca:
            att, ffn = block.pnca_attn, block.pos_ffn
            w, b = att.w_x_qkv.weight, att.w_x_qkv.bias
            b1, b2 = ffn.w_1.bias, ffn.w_2.bias
            assert b1 is not None and b2 is not None  # PncaFFN's convs have biases
            fused.append(
                (
                    att.layer_norm.weight,
                    att.layer_norm.bias,
                    torch.cat([w[:d], w[:d], w[d:]]).T.contiguous(),
                    torch.cat([b[:d], b[:d], b[d:]]).contiguous(),
                    torch.cat([att.fc_x.weight, att.fc_h.weight], dim=1).T.contiguous(),
                    att.fc_x.bias + att.fc_h.bias,
                    ffn.layer_norm.weight,
                    ffn.layer_norm.bias,
                    ffn.w_1.weight[..., 0].T.contiguous(),
                    b1,
                    ffn.w_2.weight[..., 0].T.contiguous(),
                    b2,
                )
            )
        self._fused = fused

    def start(self, memory: torch.Tensor, band_width: int) -> DecoderState:
        """A sentence before its first step: memory [N, memory_dim] projected to the
        h side of every layer's K/V buffer and to its share of ``dec_in_proj``."""
        n, h, dh = memory.shape[0], self.n_head, self.d_head
        layers = self.mel_dec.pnca
        kv = memory.new_zeros(len(layers), 2, 2, h, n + band_width, dh)
        for layer, block in enumerate(layers):
            mem_kv = block.pnca_attn.w_h_kv(memory).view(n, 2, h, dh)
            kv[layer, :, 1, :, :n] = mem_kv.permute(1, 2, 0, 3)
        in_mem = F.linear(memory, self.mel_dec.dec_in_proj.weight[:, : memory.shape[1]])
        return DecoderState(kv, in_mem, memory.new_zeros(self.num_mels), band_width)

    def steps(self, memory: torch.Tensor, band_width: int) -> Iterator[torch.Tensor]:
        """Yield each step's output, [r, num_mels], for memory [N, memory_dim]."""
        state = self.start(memory, band_width)
        while state.remaining:
            n = min(state.remaining, ROUND_STEPS)
            yield from self.advance([state], [n])[0].view(n, -1, self.num_mels)

    def advance(
        self, states: Sequence[DecoderState], steps: Sequence[int]
    ) -> list[torch.Tensor]:
        """Run ``steps[b]`` decoder steps of each ``states[b]``, all in one batch.

        Every step is one forward pass over the sentences that still need steps, in
        rounds of at most :data:`ROUND_STEPS`. Returns each sentence's new frames,
        [steps[b] * r, num_mels] (the last step's padding kept).
        """
        if any(not 0 <= n <= s.remaining for s, n in zip(states, steps, strict=True)):
            raise ValueError("each sentence needs 0..remaining steps")
        out: list[list[torch.Tensor]] = [[] for _ in states]
        left = list(steps)
        while order := sorted(
            (b for b in range(len(left)) if left[b]), key=lambda b: -left[b]
        ):
            counts = [min(left[b], ROUND_STEPS) for b in order]
            ws = RoundWorkspace([states[b] for b in order], counts, self.frame_dim)
            self._round(ws)
            for b, n, frames in zip(
                order, counts, ws.finish(self.num_mels), strict=True
            ):
                out[b].append(frames)
                left[b] -= n
        if not states:
            return []
        empty = states[0].kv.new_zeros(0, self.num_mels)
        return [o[0] if len(o) == 1 else torch.cat(o) if o else empty for o in out]

    def _round(self, ws: RoundWorkspace) -> None:
        """The steps of one round; see :mod:`acoustic_svc.nn.decoder_state`."""
        if self._fused is None:
            self.fuse()
        assert self._fused is not None
        dec, h, dh, d, win = (
            self.mel_dec,
            self.n_head,
            self.d_head,
            self.d_model,
            ws.win,
        )
        scale, inv_temp = math.sqrt(d), 1.0 / math.sqrt(dh)
        w_in = dec.dec_in_proj.weight[:, self.memory_dim :]
        prev, batch, rows = ws.prev, 0, 0
        layers: list[
            tuple[tuple[torch.Tensor, ...], torch.Tensor, torch.Tensor, torch.Tensor]
        ] = []
        for s in range(ws.steps[0]):
            if ws.active(s) != batch:  # sentences leave: narrow the views once
                batch = ws.active(s)
                rows = batch * 2 * h
                layers = [
                    (
                        fused,
                        ws.kv[i, :, :batch, 0],  # [2, batch, H, span, dh] x side
                        ws.kv[i, 0, :batch].view(rows, -1, dh),
                        ws.kv[i, 1, :batch].view(rows, -1, dh),
                    )
                    for i, fused in enumerate(self._fused)
                ]
                prev = prev[:batch]
            u = ws.in_mem[s, :batch] + F.linear(
                dec.prenet(prev), w_in, dec.dec_in_proj.bias
            )
            u = u * scale
            step_bias = ws.bias[s, :rows]
            for fused, x_slot, key, value in layers:
                ln1_w, ln1_b, w_qkv, b_qkv, fc_w, fc_b, ln2_w, ln2_b, w1, b1, w2, b2 = (
                    fused
                )
                qqkv = torch.addmm(
                    b_qkv, F.layer_norm(u, (d,), ln1_w, ln1_b, LN_EPS), w_qkv
                )
                # chunk(2), i.e. split(2 * d): the native call is typed and skips
                # Tensor.split's (unannotated) Python wrapper.
                q, new_kv = qqkv.chunk(2, dim=1)
                x_slot.select(3, s + win - 1).copy_(
                    new_kv.view(batch, 2, h, dh).transpose(0, 1)
                )
                scores = torch.baddbmm(
                    step_bias,
                    q.reshape(rows, 1, dh),
                    key.narrow(1, s, win).transpose(1, 2),
                    alpha=inv_temp,
                )
                ctx = torch.bmm(torch.softmax(scores, dim=-1), value.narrow(1, s, win))
                u = u + torch.addmm(fc_b, ctx.view(batch, 2 * d), fc_w)
                y = F.layer_norm(u, (d,), ln2_w, ln2_b, LN_EPS)
                u = u + torch.addmm(b2, torch.addmm(b1, y, w1).relu_(), w2)
            out = dec.dec_out_proj(dec.ln(u))
            ws.frames[:batch, s] = out
            prev = out[:, -self.num_mels :]
