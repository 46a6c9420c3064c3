"""Sambert hyperparameters, read from ``Model.KanTtsSAMBERT.params`` of am/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["SambertConfig"]


@dataclass(frozen=True)
class SambertConfig:
    """Architecture sizes; names follow the KAN-TTS yaml keys."""

    n_sy: int
    """sy embedding rows (phones + breaks + specials)."""
    n_tone: int
    n_syllable_flag: int
    n_word_segment: int
    n_emotion: int
    n_speaker: int
    max_len: int = 800
    embedding_dim: int = 512
    encoder_num_layers: int = 8
    encoder_num_heads: int = 8
    encoder_num_units: int = 128
    encoder_ffn_inner_dim: int = 1024
    encoder_projection_units: int = 32
    speaker_units: int = 32
    emotion_units: int = 32
    predictor_filter_size: int = 41
    predictor_fsmn_num_layers: int = 3
    predictor_num_memory_units: int = 128
    predictor_ffn_inner_dim: int = 256
    predictor_shift: int = 0
    predictor_lstm_units: int = 128
    dur_pred_prenet_units: tuple[int, ...] = (128, 128)
    dur_pred_lstm_units: int = 128
    decoder_prenet_units: tuple[int, ...] = (256, 256)
    decoder_num_layers: int = 12
    decoder_num_heads: int = 8
    decoder_num_units: int = 128
    decoder_ffn_inner_dim: int = 1024
    outputs_per_step: int = 3
    num_mels: int = 80
    postnet_filter_size: int = 41
    postnet_fsmn_num_layers: int = 4
    postnet_num_memory_units: int = 256
    postnet_ffn_inner_dim: int = 512
    postnet_shift: int = 17
    postnet_lstm_units: int = 128

    @property
    def memory_dim(self) -> int:
        """Width of one decoder memory step: r text frames + speaker + emotion."""
        return (
            self.encoder_projection_units * self.outputs_per_step
            + self.speaker_units
            + self.emotion_units
        )

    @classmethod
    def from_params(
        cls, params: dict[str, Any], sizes: dict[str, int]
    ) -> SambertConfig:
        """Build from the yaml params plus the inventory sizes (``n_*`` fields).

        Unknown yaml keys (dropouts, flags the inference path ignores) are skipped;
        features this implementation lacks are rejected by the caller.
        """
        names = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {k: v for k, v in params.items() if k in names}
        for key in ("dur_pred_prenet_units", "decoder_prenet_units"):
            if key in kwargs:
                kwargs[key] = tuple(int(u) for u in kwargs[key])
        # Merged into one mapping (``**sizes`` on its own would be checked against
        # every field, the tuple ones too); a size the yaml also sets stays an error,
        # as the duplicate keyword was.
        clash = sorted(kwargs.keys() & sizes.keys())
        if clash:
            raise TypeError(f"yaml params set inventory sizes: {', '.join(clash)}")
        return cls(**(kwargs | sizes))
