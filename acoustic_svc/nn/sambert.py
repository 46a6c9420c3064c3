"""KAN-TTS ``KanTtsSAMBERT`` for inference: the top-level module and its streams."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from acoustic_svc.nn.adaptor import Alignment, ProsodyShift, VarianceAdaptor
from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.decoder import PncaDecoder
from acoustic_svc.nn.decoder_state import DecoderState
from acoustic_svc.nn.encoder import TextEncoder
from acoustic_svc.nn.postnet import PostNet, StreamingPostnet, push_batch

__all__ = ["FIXED_TABLES", "Sambert", "SentenceDecode"]

FIXED_TABLES = (
    "text_encoder.ling_enc.position_enc.position_enc",
    "variance_adaptor.dur_position_encoder.inv_timescales",
)
"""Deterministic tables the module computes itself; a checkpoint may omit them."""


class SentenceDecode:
    """One sentence being turned into mel: decoder state, streaming postnet, chunking.

    Chunk boundaries fall every ``chunk_steps`` decoder steps from the start, and a
    chunk the postnet's look-ahead leaves empty is merged into the next one.
    """

    def __init__(
        self, state: DecoderState, post: StreamingPostnet, chunk_steps: int
    ) -> None:
        self.state = state
        self.post = post
        self.chunk_steps = chunk_steps
        self.finished = False
        """Every frame has been returned."""
        self.cancelled = False
        """Set (from any thread) to stop: a running batch drops it after its round."""

    @property
    def ended(self) -> bool:
        """Finished or cancelled: nothing more will be decoded."""
        return self.finished or self.cancelled


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
        shift: ProsodyShift | None = None,
    ) -> Alignment:
        """Encoder and variance adaptor for one utterance.

        Args:
            ling: int64 [T, 4] sy, tone, syllable_flag, word_segment ids.
            emo: int64 [T] emotion ids.
            spk: int64 [T] speaker ids.
            speed: duration divisor (2.0 speaks twice as fast).
            shift: pitch and energy change, applied after duration prediction.
        """
        text_hid = self.text_encoder(ling[None], None)
        alignment: Alignment = self.variance_adaptor(
            text_hid,
            self.spk_tokenizer(spk)[None],
            self.emo_tokenizer(emo)[None],
            speed,
            shift,
        )
        return alignment

    def decode(self, alignment: Alignment) -> Iterator[torch.Tensor]:
        """Decoder output before the postnet, [r, num_mels] per step (padding kept)."""
        return self.mel_decoder.steps(alignment.memory, alignment.band_width)

    def open(self, alignment: Alignment, chunk_steps: int = 1) -> SentenceDecode:
        """A sentence ready for :meth:`next_chunks`."""
        state = self.mel_decoder.start(alignment.memory, alignment.band_width)
        post = StreamingPostnet(self.mel_postnet, alignment.n_frames)
        return SentenceDecode(state, post, chunk_steps)

    def next_chunks(
        self, sentences: Sequence[SentenceDecode]
    ) -> list[torch.Tensor | None]:
        """Each sentence's next chunk of final mel frames [n >= 1, num_mels], or None
        once it has ended; the decoder steps of all of them run batched.

        A sentence whose chunk is complete (or whose chunk came out empty and needs
        the next one) leaves or stays for the following round; the call returns when
        every sentence has a chunk, has finished or was cancelled.
        """
        chunks: list[torch.Tensor | None] = [None] * len(sentences)
        todo = [i for i, s in enumerate(sentences) if not s.ended]
        while todo:
            states = [sentences[i].state for i in todo]
            counts = [
                min(sentences[i].chunk_steps, s.remaining)
                for i, s in zip(todo, states, strict=True)
            ]
            frames = self.mel_decoder.advance(states, counts)
            # The postnet runs once per chunk, not per step: small convs and an
            # LSTM call per step would cost more than the decoder step itself.
            posts = [sentences[i].post for i in todo]
            again = []
            for i, chunk in zip(todo, push_batch(posts, frames), strict=True):
                sentence = sentences[i]
                sentence.finished = not sentence.state.remaining
                if chunk.shape[0]:
                    chunks[i] = chunk
                elif not sentence.finished:
                    again.append(i)
            todo = [i for i in again if not sentences[i].cancelled]
        return chunks

    def stream(
        self, alignment: Alignment, chunk_steps: int = 1
    ) -> Iterator[torch.Tensor]:
        """Final mel frames as they become available, about ``chunk_steps`` decoder
        steps' worth at a time; the chunks concatenate to [n_frames, num_mels]."""
        sentence = self.open(alignment, chunk_steps)
        while (chunk := self.next_chunks([sentence])[0]) is not None:
            yield chunk
