"""KAN-TTS ``KanTtsSAMBERT`` for inference: the top-level module and its stream."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from acoustic_svc.nn.adaptor import Alignment, VarianceAdaptor
from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.decoder import PncaDecoder
from acoustic_svc.nn.encoder import TextEncoder
from acoustic_svc.nn.postnet import PostNet, StreamingPostnet

__all__ = ["FIXED_TABLES", "Sambert"]

FIXED_TABLES = (
    "text_encoder.ling_enc.position_enc.position_enc",
    "variance_adaptor.dur_position_encoder.inv_timescales",
)
"""Deterministic tables the module computes itself; a checkpoint may omit them."""


class Sambert(nn.Module):
    """Symbol ids -> mel frames. Submodule names match the KAN-TTS state dict."""

    def __init__(self, cfg: SambertConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.text_encoder = TextEncoder(cfg)
        self.spk_tokenizer = nn.Embedding(cfg.n_speaker, cfg.speaker_units)
        self.emo_tokenizer = nn.Embedding(cfg.n_emotion, cfg.emotion_units)
        self.variance_adaptor = VarianceAdaptor(cfg)
        self.mel_decoder = PncaDecoder(cfg)
        self.mel_postnet = PostNet(cfg)

    def align(
        self,
        ling: torch.Tensor,
        emo: torch.Tensor,
        spk: torch.Tensor,
        speed: float = 1.0,
    ) -> Alignment:
        """Encoder and variance adaptor for one utterance.

        Args:
            ling: int64 [T, 4] sy, tone, syllable_flag, word_segment ids.
            emo: int64 [T] emotion ids.
            spk: int64 [T] speaker ids.
            speed: duration divisor (2.0 speaks twice as fast).
        """
        text_hid = self.text_encoder(ling[None], None)
        alignment: Alignment = self.variance_adaptor(
            text_hid,
            self.spk_tokenizer(spk)[None],
            self.emo_tokenizer(emo)[None],
            speed,
        )
        return alignment

    def decode(self, alignment: Alignment) -> Iterator[torch.Tensor]:
        """Decoder output before the postnet, [r, num_mels] per step (padding kept)."""
        return self.mel_decoder.steps(alignment.memory, alignment.band_width)

    def stream(
        self, alignment: Alignment, chunk_steps: int = 1
    ) -> Iterator[torch.Tensor]:
        """Final mel frames as they become available, about ``chunk_steps`` decoder
        steps' worth at a time; the chunks concatenate to [n_frames, num_mels]."""
        post = StreamingPostnet(self.mel_postnet, alignment.n_frames)
        pending: list[torch.Tensor] = []
        for i, frames in enumerate(self.decode(alignment), start=1):
            pending.append(frames)
            if i % chunk_steps == 0:
                # The postnet runs once per chunk, not per step: small convs and an
                # LSTM call per step would cost more than the decoder step itself.
                chunk = post.push(torch.cat(pending))
                pending = []
                if chunk.shape[0]:
                    yield chunk
        tail = post.push(torch.cat(pending)) if pending else post.flush()
        if tail.shape[0]:
            yield tail
