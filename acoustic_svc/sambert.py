"""The Sambert acoustic backend: loads a ModelScope voice and turns symbols into mel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from acoustic_svc.encoding import SymbolEncoder
from acoustic_svc.model import MelStream
from acoustic_svc.nn.adaptor import ProsodyShift
from acoustic_svc.nn.config import SambertConfig
from acoustic_svc.nn.sambert import FIXED_TABLES, Sambert, SentenceDecode
from tts_common.checkpoint import dig, load_checkpoint, match_state_dict, to_float32
from tts_common.errors import InvalidInput, ModelLoadError
from tts_common.modeldir import StageFiles, resolve_voice
from tts_common.speed import check_speed

__all__ = ["SambertAcoustic", "SambertStream", "load_acoustic_model"]

_LOGGER = logging.getLogger(__name__)
_UNSUPPORTED = ("SE", "FP", "NSF", "using_byte")
PITCH_RANGE_SEMITONES = (-12.0, 12.0)
ENERGY_RANGE = (-3.0, 3.0)
"""Energy shifts taken, in standard deviations of the normalised energy."""


class SambertAcoustic:
    """One loaded voice's acoustic model; safe to call from several threads."""

    def __init__(
        self,
        model: Sambert,
        encoder: SymbolEncoder,
        *,
        voice: str,
        revision: str,
        sample_rate: int,
        hop_length: int,
    ) -> None:
        self._model = model
        self._encoder = encoder
        self.voice = voice
        self.revision = revision
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.num_mels = model.cfg.num_mels
        self.emotions = encoder.emotions
        self.speakers = encoder.speakers
        self._device = next(model.parameters()).device

    def mel(
        self,
        symbols: str,
        *,
        speed: float = 1.0,
        emotion: str | None = None,
        speaker: str | None = None,
        pitch_semitones: float = 0.0,
        energy_shift: float = 0.0,
    ) -> np.ndarray:
        """Whole-utterance mel, float32 [frames, num_mels]."""
        chunks = list(
            self.stream_mel(
                symbols,
                speed=speed,
                emotion=emotion,
                speaker=speaker,
                chunk_steps=1 << 30,
                pitch_semitones=pitch_semitones,
                energy_shift=energy_shift,
            )
        )
        return np.concatenate(chunks) if len(chunks) != 1 else chunks[0]

    def stream_mel(
        self,
        symbols: str,
        *,
        speed: float = 1.0,
        emotion: str | None = None,
        speaker: str | None = None,
        chunk_steps: int = 1,
        pitch_semitones: float = 0.0,
        energy_shift: float = 0.0,
    ) -> SambertStream:
        """Mel chunks as decoder steps complete; they concatenate to :meth:`mel`.

        Input is checked and durations predicted here, so errors raise from this
        call; a chunk holds about ``chunk_steps`` decoder steps (3 frames each) minus
        the postnet's look-ahead. Iterate the stream on its own, or advance several
        streams at once with :meth:`next_chunks`.
        """
        check_speed(speed)  # the range the gateway enforces too (tts_common.speed)
        _check_range("pitch_semitones", pitch_semitones, PITCH_RANGE_SEMITONES)
        _check_range("energy_shift", energy_shift, ENERGY_RANGE)
        if chunk_steps < 1:
            raise InvalidInput(f"chunk_steps must be >= 1, got {chunk_steps}")
        ids = self._encoder.encode(symbols, emotion, speaker)

        def to(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(self._device)

        shift = ProsodyShift(
            pitch_semitones, energy_shift, to(ids.voiced), to(ids.spoken)
        )
        with torch.inference_mode():
            alignment = self._model.align(
                to(ids.ling), to(ids.emotion), to(ids.speaker), speed, shift
            )
            if alignment.n_frames == 0:
                raise InvalidInput(
                    "symbols produce no audio frames (every duration is 0)"
                )
            frames = tuple(int(n) for n in alignment.reps.tolist())
            decode = self._model.open(alignment, chunk_steps)
            return SambertStream(self, decode, frames)

    def next_chunks(self, streams: Sequence[MelStream]) -> list[np.ndarray | None]:
        """The next chunk of each stream (None once it has ended), decoded together:
        every decoder step is one batched forward pass over the streams needing it.

        Raises:
            TypeError: A stream was not made by this model's :meth:`stream_mel`.
        """
        sentences = []
        for stream in streams:
            if not isinstance(stream, SambertStream) or stream.owner is not self:
                raise TypeError("streams must come from this model's stream_mel")
            sentences.append(stream.sentence)
        # Inference mode is thread-local, and each call may run on another thread.
        with torch.inference_mode():
            chunks = self._model.next_chunks(sentences)
            return [None if c is None else _to_numpy(c) for c in chunks]

    def close(self) -> None:
        """Release the weights (the object is unusable afterwards)."""
        self._model = None  # type: ignore[assignment]


class SambertStream:
    """One sentence's mel chunks (a :class:`~acoustic_svc.model.MelStream`)."""

    def __init__(
        self,
        owner: SambertAcoustic,
        sentence: SentenceDecode,
        symbol_frames: tuple[int, ...],
    ) -> None:
        self.owner = owner
        """The model whose :meth:`~SambertAcoustic.next_chunks` advances it."""
        self.sentence = sentence
        self.symbol_frames = symbol_frames
        """Frames each input symbol lasts (after speed); sums to the mel length."""

    def __iter__(self) -> SambertStream:
        return self

    def __next__(self) -> np.ndarray:
        chunk = self.owner.next_chunks([self])[0]
        if chunk is None:
            raise StopIteration
        return chunk

    @property
    def done(self) -> bool:
        """Every chunk has been returned, or the stream was closed."""
        return self.sentence.ended

    def close(self) -> None:
        """Stop decoding; a batch running this stream drops it after its round."""
        self.sentence.cancelled = True


def _check_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:  # also refuses NaN
        raise InvalidInput(f"{name} {value:g} is out of range; use {low:g} to {high:g}")


def _to_numpy(chunk: torch.Tensor) -> np.ndarray:
    return chunk.detach().to("cpu", torch.float32).numpy()


def _model_params(stage: StageFiles) -> dict[str, Any]:
    conf = stage.config
    model = conf.get("Model")
    if not isinstance(model, dict):
        model = {}
    section = model.get("KanTtsSAMBERT")
    if conf.get("model_type", "sambert") != "sambert" or not isinstance(section, dict):
        raise ModelLoadError(
            f"{stage.config_path}: model type {conf.get('model_type')!r} with sections "
            f"{sorted(model)} is not a KanTtsSAMBERT acoustic model"
        )
    params = section.get("params") or {}
    bad = [k for k in _UNSUPPORTED if params.get(k)]
    if bad:
        raise ModelLoadError(f"{stage.config_path}: unsupported Sambert features {bad}")
    return params


def load_acoustic_model(
    model_dir: str | Path, voice: str | None = None, device: str = "cpu"
) -> SambertAcoustic:
    """Load ``voices/<voice>/am`` of a ModelScope model dir (default voice if None)."""
    vdir = resolve_voice(model_dir, voice)
    stage = vdir.stage("am")
    params = _model_params(stage)
    unit = stage.config.get("linguistic_unit") or {}
    if unit.get("language", "PinYin") != "PinYin":
        raise ModelLoadError(
            f"{stage.config_path}: only PinYin voices are supported, "
            f"not {unit.get('language')!r}"
        )
    speaker_list = [s.strip() for s in str(unit.get("speaker_list", "F7")).split(",")]
    info = vdir.voice_info or {}
    try:
        encoder = SymbolEncoder(
            speaker_list, vdir.has_mask, info.get("emotions"), info.get("speakers")
        )
        cfg = SambertConfig.from_params(params, encoder.sizes())
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{stage.config_path}: {exc}") from None
    model = Sambert(cfg)
    state = to_float32(
        dig(load_checkpoint(stage.checkpoint_path), stage.checkpoint_path, "model")
    )
    match_state_dict(stage.checkpoint_path, model, state, computed=FIXED_TABLES)
    model.eval().to(device)
    model.mel_decoder.fuse()
    audio = stage.config.get("audio_config") or {}
    _LOGGER.info(
        "loaded acoustic model voice=%s file=%s", vdir.name, stage.checkpoint_path.name
    )
    return SambertAcoustic(
        model,
        encoder,
        voice=vdir.name,
        revision=stage.revision(),
        sample_rate=int(audio.get("sampling_rate", vdir.sample_rate)),
        hop_length=int(audio.get("hop_length", 200)),
    )
