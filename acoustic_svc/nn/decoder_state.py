"""Per-sentence decoder state, and the batch workspace one decoding round runs in.

A sentence keeps its own key/value buffer (layout in :mod:`acoustic_svc.nn.decoder`):
sentences differ in length, band width and step index, and join or leave a batch at
any round. For a round of ``k`` steps over ``B`` sentences, :class:`RoundWorkspace`
copies each sentence's part of its buffer into one shared tensor

    kv : [layers, 2 (key/value), B, 2 (x self / h memory), H, k + W - 1, d_head]

with ``W = max band width + 1`` and a per-sentence offset chosen so that at local
step ``s`` every sentence's window is the *same* slice ``[s, s + W)`` and its new x
key/value goes to the same position ``s + W - 1``: the x side is right-aligned (slot
``p`` is x step ``i - (W - 1) + p``), the h side left-aligned (slot ``p`` is memory
step ``i + p``). Slots outside a sentence's own band get an additive ``-inf``; their
softmax weight is exactly 0, so each sentence's attention equals its unbatched one.
One narrow per layer then serves the whole batch; per sentence, a round costs two
copies in (x and h side) and one back, instead of per-sentence work at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["DecoderState", "RoundWorkspace"]


@dataclass(eq=False)
class DecoderState:
    """Where one sentence's decoding stands (made by ``PncaDecoder.start``)."""

    kv: torch.Tensor
    """[layers, 2, 2, H, N + bw, d_head]: x step j at j + bw, memory step j at j."""
    in_mem: torch.Tensor
    """[N, d_model]: the memory's share of ``dec_in_proj``, computed once."""
    prev: torch.Tensor
    """[num_mels]: the last frame decoded so far (zeros before the first step)."""
    band_width: int
    """Attention half-window in steps, on both sides."""
    step: int = 0
    """Steps done so far."""

    @property
    def n_steps(self) -> int:
        """Decoder steps of the whole sentence (N)."""
        return int(self.in_mem.shape[0])

    @property
    def remaining(self) -> int:
        """Decoder steps still to run."""
        return self.n_steps - self.step


class RoundWorkspace:
    """The shared tensors of one round; ``steps`` sorted longest first.

    ``steps[b] <= remaining`` of ``states[b]``; sentence b takes part in local steps
    ``0 .. steps[b] - 1``, so the sentences still running are always a prefix.
    """

    def __init__(
        self, states: Sequence[DecoderState], steps: Sequence[int], frame_dim: int
    ) -> None:
        self.states, self.steps = states, steps
        ref = states[0].kv
        layers, _, _, heads, _, d_head = ref.shape
        self.win = max(s.band_width for s in states) + 1
        k, batch, span = steps[0], len(states), steps[0] + self.win - 1
        self.kv = ref.new_zeros(layers, 2, batch, 2, heads, span, d_head)
        self.in_mem = ref.new_zeros(k, batch, states[0].in_mem.shape[1])
        for b, (state, n) in enumerate(zip(states, steps, strict=True)):
            self._load(b, state, span)
            self.in_mem[:n, b] = state.in_mem[state.step : state.step + n]
        self.prev = torch.stack([s.prev for s in states])
        self.bias = self._window_bias(heads)
        self.frames = ref.new_empty(batch, k, frame_dim)
        """Decoder output of each sentence and local step, filled by the caller."""

    def active(self, local_step: int) -> int:
        """How many sentences (a prefix) run at ``local_step``."""
        return sum(n > local_step for n in self.steps)

    def _load(self, b: int, state: DecoderState, span: int) -> None:
        dst, src = self.kv[:, :, b], state.kv
        i, bw, win = state.step, state.band_width, self.win
        # x side: slot q holds x step i - (win - 1) + q, buffer position that + bw;
        # steps before 0 (buffer positions below 0) stay zero and masked.
        first = i - (win - 1) + bw
        lo, hi = max(first, 0), i + bw
        if hi > lo:
            dst[:, :, 0, :, lo - first : win - 1] = src[:, :, 0, :, lo:hi]
        # h side: slot q holds memory step i + q; past the sentence's end: zeros.
        hi = min(i + span, state.n_steps)
        dst[:, :, 1, :, : hi - i] = src[:, :, 1, :, i:hi]

    def _window_bias(self, heads: int) -> torch.Tensor:
        """[k, B * 2 * H, 1, W]: 0 where a slot is in a sentence's band, else -inf."""
        device, win = self.kv.device, self.win
        k, batch = self.steps[0], len(self.states)

        def column(values: list[int]) -> torch.Tensor:  # [1, B, 1]
            return torch.tensor(values, device=device)[None, :, None]

        step = column([s.step for s in self.states])
        step = step + torch.arange(k, device=device)[:, None, None]  # [k, B, 1]
        bw = column([s.band_width for s in self.states])
        slot = torch.arange(win, device=device)
        # x slot p is x step i - (W - 1) + p: out of band below W - 1 - bw, or < 0;
        # h slot p is memory step i + p: out of band above bw, or past the end.
        x_out = (slot < win - 1 - bw) | (step - (win - 1) + slot < 0)
        h_out = (slot > bw) | (step + slot >= column([s.n_steps for s in self.states]))
        out = torch.stack([x_out, h_out], dim=2)  # [k, B, 2, W]
        bias = self.kv.new_zeros(out.shape).masked_fill_(out, float("-inf"))
        bias = bias[:, :, :, None, None, :].expand(k, batch, 2, heads, 1, win)
        return bias.reshape(k, batch * 2 * heads, 1, win)

    def finish(self, num_mels: int) -> list[torch.Tensor]:
        """Store each sentence's new x keys/values and position; its frames."""
        out = []
        for b, (state, n) in enumerate(zip(self.states, self.steps, strict=True)):
            pos = state.step + state.band_width
            state.kv[:, :, 0, :, pos : pos + n] = self.kv[
                :, :, b, 0, :, self.win - 1 : self.win - 1 + n
            ]
            state.step += n
            frames = self.frames[b, :n].reshape(-1, num_mels)
            state.prev = frames[-1]
            out.append(frames)
        return out
