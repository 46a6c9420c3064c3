"""Named Sambert sizes (``Model.KanTtsSAMBERT.params`` of am/config.yaml).

``full`` is KAN-TTS's sambert_16k.yaml (12.3 M parameters). The smaller ones keep
the architecture and shrink widths and depths so that training fits a CPU.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SIZES"]

_FULL: dict[str, Any] = {
    "max_len": 800,
    "embedding_dim": 512,
    "encoder_num_layers": 8,
    "encoder_num_heads": 8,
    "encoder_num_units": 128,
    "encoder_ffn_inner_dim": 1024,
    "encoder_projection_units": 32,
    "speaker_units": 32,
    "emotion_units": 32,
    "predictor_filter_size": 41,
    "predictor_fsmn_num_layers": 3,
    "predictor_num_memory_units": 128,
    "predictor_ffn_inner_dim": 256,
    "predictor_shift": 0,
    "predictor_lstm_units": 128,
    "dur_pred_prenet_units": [128, 128],
    "dur_pred_lstm_units": 128,
    "decoder_prenet_units": [256, 256],
    "decoder_num_layers": 12,
    "decoder_num_heads": 8,
    "decoder_num_units": 128,
    "decoder_ffn_inner_dim": 1024,
    "outputs_per_step": 3,
    "num_mels": 80,
    "postnet_filter_size": 41,
    "postnet_fsmn_num_layers": 4,
    "postnet_num_memory_units": 256,
    "postnet_ffn_inner_dim": 512,
    "postnet_shift": 17,
    "postnet_lstm_units": 128,
    "MAS": False,
}

SIZES: dict[str, dict[str, Any]] = {
    "full": _FULL,
    "small": {
        **_FULL,
        "embedding_dim": 256,
        "encoder_num_layers": 4,
        "encoder_ffn_inner_dim": 512,
        "decoder_num_layers": 6,
        "decoder_ffn_inner_dim": 512,
    },
    "tiny": {
        **_FULL,
        "embedding_dim": 128,
        "encoder_num_layers": 4,
        "encoder_num_heads": 4,
        "encoder_ffn_inner_dim": 256,
        "predictor_fsmn_num_layers": 2,
        "predictor_num_memory_units": 64,
        "predictor_ffn_inner_dim": 128,
        "predictor_lstm_units": 64,
        "dur_pred_prenet_units": [64, 64],
        "dur_pred_lstm_units": 64,
        "decoder_prenet_units": [128, 128],
        "decoder_num_layers": 4,
        "decoder_num_heads": 4,
        "decoder_ffn_inner_dim": 256,
        "postnet_fsmn_num_layers": 3,
        "postnet_num_memory_units": 128,
        "postnet_ffn_inner_dim": 256,
        "postnet_lstm_units": 128,
    },
}
