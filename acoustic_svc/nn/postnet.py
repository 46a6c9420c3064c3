"""Mel postnet (FSMN -> LSTM -> Linear residual), runnable incrementally.

The FSMN looks ``rp`` frames ahead per layer, the LSTM is causal, so postnet output
frame t is final once decoder frame t + sum(rp) exists. :class:`StreamingPostnet`
computes each layer only for frames that have become final, so the streamed mel
equals the whole-utterance mel without recomputing anything: a layer's context net
(pointwise) runs once per frame and is kept for the depthwise conv's later windows.

:func:`push_batch` advances several utterances at once, each layer one call for all
of them: the context net over their new frames laid end to end, the conv over their
windows stacked (zero-padded, as at a sequence edge), the LSTM over their new frames
as one batch, each from its own state.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.layers import FsmnEncoder, FsmnFFN, MemoryBlock

__all__ = ["PostNet", "StreamingPostnet", "push_batch"]


class PostNet(nn.Module):
    """``mel_postnet`` in the state dict."""

    def __init__(self, cfg: SambertConfig) -> None:
        super().__init__()
        self.fsmn = FsmnEncoder(
            cfg.postnet_filter_size,
            cfg.postnet_fsmn_num_layers,
            cfg.num_mels,
            cfg.postnet_num_memory_units,
            cfg.postnet_ffn_inner_dim,
            cfg.postnet_shift,
        )
        self.lstm = nn.LSTM(
            cfg.postnet_num_memory_units, cfg.postnet_lstm_units, batch_first=True
        )
        self.fc = nn.Linear(cfg.postnet_lstm_units, cfg.num_mels)

    @property
    def look_ahead(self) -> int:
        """Decoder frames needed past an output frame before it is final."""
        return sum(b.rp for b in self.fsmn.memory_block_lst)


class StreamingPostnet:
    """Feeds decoder frames in, returns final mel frames out, for one utterance."""

    def __init__(self, postnet: PostNet, n_frames: int) -> None:
        self.net = postnet
        self.n_frames = n_frames
        device = postnet.fc.weight.device
        width = [b.conv_dw.out_channels for b in postnet.fsmn.memory_block_lst]
        self.dec = torch.zeros(postnet.fc.out_features, n_frames, device=device)
        self.ctx = [torch.zeros(w, n_frames, device=device) for w in width]
        """Each layer's context-net output, for the frames in ``ctx_done``."""
        self.outs = [torch.zeros(w, n_frames, device=device) for w in width]
        self.avail = [0] * (len(width) + 1)  # frames final in dec, then per layer
        self.ctx_done = [0] * len(width)
        self.emitted = 0
        self.state: tuple[torch.Tensor, torch.Tensor] | None = None

    def push(self, frames: torch.Tensor) -> torch.Tensor:
        """Add decoder frames [n, num_mels] (frames past the utterance end are dropped).

        Returns the mel frames [m, num_mels] that became final (m may be 0).
        """
        return push_batch([self], [frames])[0]

    def flush(self) -> torch.Tensor:
        """Frames still held back; empty unless the decoder stopped short."""
        return push_batch([self], [self.dec[:, :0].T])[0]

    def store(self, frames: torch.Tensor) -> None:
        """Add decoder frames without running the layers (see :func:`push_batch`)."""
        start = self.avail[0]
        take = min(frames.shape[0], self.n_frames - start)
        if take > 0:
            self.dec[:, start : start + take] = frames[:take].T
            self.avail[0] = start + take


def push_batch(
    posts: Sequence[StreamingPostnet], frames: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """:meth:`StreamingPostnet.push` for several utterances of one postnet."""
    for post, new in zip(posts, frames, strict=True):
        post.store(new)
    fsmn = posts[0].net.fsmn
    sources = [post.dec for post in posts]
    for i, (ffn, block) in enumerate(
        zip(fsmn.ffn_lst, fsmn.memory_block_lst, strict=True)
    ):
        _context(ffn, i, posts, sources)
        _memory(block, i, posts, sources)
        sources = [post.outs[i] for post in posts]
    return _recurrent(posts, sources)


def _context(
    ffn: FsmnFFN,
    i: int,
    posts: Sequence[StreamingPostnet],
    sources: list[torch.Tensor],
) -> None:
    """Layer i's context net on the input frames that are new since last time."""
    new = [
        (post, src, post.ctx_done[i], post.avail[i])
        for post, src in zip(posts, sources, strict=True)
        if post.avail[i] > post.ctx_done[i]
    ]
    if not new:
        return
    x = torch.cat([src[:, lo:hi] for _, src, lo, hi in new], dim=1)
    y = ffn(x[None])[0]
    at = 0
    for post, _, lo, hi in new:
        post.ctx[i][:, lo:hi] = y[:, at : at + hi - lo]
        post.ctx_done[i], at = hi, at + hi - lo


def _memory(
    block: MemoryBlock,
    i: int,
    posts: Sequence[StreamingPostnet],
    sources: list[torch.Tensor],
) -> None:
    """Layer i's output for the frames whose conv window is now complete: the
    arithmetic of :meth:`FsmnEncoder.layer`, on the windows of all utterances."""
    todo = []
    for post, src in zip(posts, sources, strict=True):
        have, done = post.avail[i], post.avail[i + 1]
        ready = have if have == post.n_frames else max(have - block.rp, 0)
        if ready > done:
            todo.append((post, src, done, ready))
    if not todo:
        return
    lp, rp = block.lp, block.rp
    longest = max(ready - done for _, _, done, ready in todo)
    ctx0 = todo[0][0].ctx[i]
    # Window b, slot q: context frame done_b - lp + q; frames outside the utterance
    # (or past this window) stay zero, which is the reference's padding.
    windows = ctx0.new_zeros(len(todo), ctx0.shape[0], lp + longest + rp)
    for b, (post, _, done, ready) in enumerate(todo):
        lo, hi = max(done - lp, 0), min(ready + rp, post.avail[i])
        windows[b, :, lo - done + lp : hi - done + lp] = post.ctx[i][:, lo:hi]
    mem = block.conv_dw(windows) + windows[:, :, lp : lp + longest]
    for b, (post, src, done, ready) in enumerate(todo):
        out = post.outs[i][:, done:ready]
        out.copy_(mem[b, :, : ready - done])
        if src.shape[0] == out.shape[0]:  # residual where the widths allow
            out.add_(src[:, done:ready])
        post.avail[i + 1] = ready


def _recurrent(
    posts: Sequence[StreamingPostnet], sources: list[torch.Tensor]
) -> list[torch.Tensor]:
    """LSTM and output layer over the frames the FSMN finished; the mel frames."""
    net = posts[0].net
    chunks = [post.dec.new_zeros(0, post.dec.shape[0]) for post in posts]
    todo = [
        (b, post.emitted, post.avail[-1])
        for b, post in enumerate(posts)
        if post.avail[-1] > post.emitted
    ]
    if not todo:
        return chunks
    seqs = [sources[b][:, lo:hi].T for b, lo, hi in todo]
    zero = seqs[0].new_zeros(1, 1, net.lstm.hidden_size)
    states = [posts[b].state for b, _, _ in todo]
    h0 = torch.cat([s[0] if s else zero for s in states], dim=1)
    c0 = torch.cat([s[1] if s else zero for s in states], dim=1)
    if len({len(s) for s in seqs}) == 1:
        hidden, (h, c) = net.lstm(torch.stack(seqs), (h0, c0))
    else:  # different lengths: packed, so each state stops at its own last frame
        packed, (h, c) = net.lstm(pack_sequence(seqs, enforce_sorted=False), (h0, c0))
        hidden = pad_packed_sequence(packed, batch_first=True)[0]
    residual = F.linear(hidden, net.fc.weight, net.fc.bias)
    for j, (b, lo, hi) in enumerate(todo):
        post = posts[b]
        post.state = (h[:, j : j + 1], c[:, j : j + 1])
        post.emitted = hi
        chunks[b] = post.dec[:, lo:hi].T + residual[j, : hi - lo]
    return chunks
