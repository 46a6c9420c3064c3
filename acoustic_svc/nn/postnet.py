"""Mel postnet (FSMN -> LSTM -> Linear residual), runnable incrementally.

The FSMN looks ``rp`` frames ahead per layer, the LSTM is causal, so postnet output
frame t is final once decoder frame t + sum(rp) exists. :class:`StreamingPostnet`
computes each layer only for frames that have become final, so the streamed mel
equals the whole-utterance mel without recomputing anything.
"""

from __future__ import annotations

import torch
from torch import nn

from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.layers import FsmnEncoder

__all__ = ["PostNet", "StreamingPostnet"]


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
        layers = len(postnet.fsmn.ffn_lst)
        device = postnet.fc.weight.device
        self.dec = torch.zeros(postnet.fc.out_features, n_frames, device=device)
        self.outs = [
            torch.zeros(b.conv_dw.out_channels, n_frames, device=device)
            for b in postnet.fsmn.memory_block_lst
        ]
        self.avail = [0] * (layers + 1)  # frames final in dec, then per FSMN layer
        self.emitted = 0
        self.state: tuple[torch.Tensor, torch.Tensor] | None = None

    def push(self, frames: torch.Tensor) -> torch.Tensor:
        """Add decoder frames [n, num_mels] (frames past the utterance end are dropped).

        Returns the mel frames [m, num_mels] that became final (m may be 0).
        """
        start = self.avail[0]
        take = min(frames.shape[0], self.n_frames - start)
        if take > 0:
            self.dec[:, start : start + take] = frames[:take].T
            self.avail[0] = start + take
        return self._advance()

    def flush(self) -> torch.Tensor:
        """Frames still held back; empty unless the decoder stopped short."""
        return self._advance()

    def _advance(self) -> torch.Tensor:
        fsmn = self.net.fsmn
        source = self.dec
        for i, block in enumerate(fsmn.memory_block_lst):
            have, done = self.avail[i], self.avail[i + 1]
            ready = have if have == self.n_frames else max(have - block.rp, 0)
            if ready > done:
                lo, hi = max(done - block.lp, 0), min(ready + block.rp, have)
                out = fsmn.layer(i, source[None, :, lo:hi], done - lo, hi - ready)
                self.outs[i][:, done:ready] = out[0]
                self.avail[i + 1] = ready
            source = self.outs[i]
        ready, done = self.avail[-1], self.emitted
        if ready <= done:
            return self.dec.new_zeros(0, self.dec.shape[0])
        hidden, self.state = self.net.lstm(source[:, done:ready].T[None], self.state)
        self.emitted = ready
        residual: torch.Tensor = self.net.fc(hidden[0])
        return self.dec[:, done:ready].T + residual
