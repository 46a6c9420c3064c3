"""HiFi-GAN vocoder adapter: a loaded generator turning mel into audio, whole or streamed.

:mod:`vocoder_svc.loading` builds one from a voice's ``voc`` stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from tts_common.errors import InvalidInput, NotReady, TtsError
from vocoder_svc.model import VocoderStream
from vocoder_svc.nn.classic_hifigan import ClassicGenerator
from vocoder_svc.nn.kantts_hifigan import KanttsGenerator
from vocoder_svc.streams import MelStream, advance

__all__ = ["Generator", "HifiGanVocoder", "num_mels_of"]

Generator = KanttsGenerator | ClassicGenerator


def _own(stream: VocoderStream) -> MelStream:
    """``stream`` as this module's state class (streams come from open_stream)."""
    if not isinstance(stream, MelStream):
        raise TypeError(f"not a stream of this vocoder: {type(stream).__name__}")
    return stream


def num_mels_of(generator: Generator) -> int:
    """Mel bins per input frame of either generator layout."""
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
        self._num_mels = num_mels_of(generator)
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
