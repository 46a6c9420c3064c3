"""Sambert text encoder: summed linguistic embeddings -> FFT blocks -> projection."""

from __future__ import annotations

import torch
from torch import nn

from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.layers import LN_EPS, FFTBlock, TypedModuleList, sinusoid_table

__all__ = ["TextEncoder"]


class PositionTable(nn.Module):
    """Holds the fixed sinusoid table under the reference's parameter name."""

    def __init__(self, max_len: int, depth: int) -> None:
        super().__init__()
        self.position_enc = nn.Parameter(
            sinusoid_table(max_len, depth)[None], requires_grad=False
        )

    def rows(self, length: int) -> torch.Tensor:
        """Rows for positions 1..length, [length, depth]; extends past the table."""
        table = self.position_enc[0]
        if length <= table.shape[0]:
            return table[:length]
        return sinusoid_table(length, table.shape[1]).to(table.device)


class LingEncoder(nn.Module):
    """Self-attention encoder (``ling_enc``): scale, add positions, FFT blocks, LN."""

    def __init__(self, cfg: SambertConfig) -> None:
        super().__init__()
        d_model = cfg.encoder_num_units
        self.d_model = d_model
        self.position_enc = PositionTable(cfg.max_len, cfg.embedding_dim)
        d_ins = [cfg.embedding_dim] + [d_model] * (cfg.encoder_num_layers - 1)
        self.fft = TypedModuleList(
            FFTBlock(
                d, d_model, cfg.encoder_num_heads, cfg.encoder_ffn_inner_dim, (3, 1)
            )
            for d in d_ins
        )
        self.ln = nn.LayerNorm(d_model, eps=LN_EPS)

    def forward(self, emb: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        # The reference scales by sqrt of the *encoder* width, not the embedding's.
        x: torch.Tensor = emb * self.d_model**0.5
        x = x + self.position_enc.rows(x.shape[1])[None]
        for block in self.fft:
            x = block(x, padding)
        out: torch.Tensor = self.ln(x)
        return out


class TextEncoder(nn.Module):
    """Token ids [B, T, 4] (sy, tone, syllable_flag, word_segment) -> [B, T, d_proj]."""

    def __init__(self, cfg: SambertConfig) -> None:
        super().__init__()
        d = cfg.embedding_dim
        self.sy_emb = nn.Embedding(cfg.n_sy, d)
        self.tone_emb = nn.Embedding(cfg.n_tone, d)
        self.syllable_flag_emb = nn.Embedding(cfg.n_syllable_flag, d)
        self.ws_emb = nn.Embedding(cfg.n_word_segment, d)
        self.ling_enc = LingEncoder(cfg)
        self.ling_proj = nn.Linear(
            cfg.encoder_num_units, cfg.encoder_projection_units, bias=False
        )

    def forward(self, ling: torch.Tensor, padding: torch.Tensor | None) -> torch.Tensor:
        emb = (
            self.sy_emb(ling[..., 0])
            + self.tone_emb(ling[..., 1])
            + self.syllable_flag_emb(ling[..., 2])
            + self.ws_emb(ling[..., 3])
        )
        out: torch.Tensor = self.ling_proj(self.ling_enc(emb, padding))
        return out
