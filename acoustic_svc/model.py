"""The acoustic adapter contract that the servicer programs against (no torch here)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

__all__ = ["AcousticModel", "MelStream"]


class MelStream(Protocol):
    """One sentence's mel, chunk by chunk (made by :meth:`AcousticModel.stream_mel`).

    Iterating it decodes the sentence on its own; :meth:`AcousticModel.next_chunks`
    advances several streams of one model together. One thread at a time.
    """

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def __next__(self) -> np.ndarray:
        """The next chunk, float32 [n >= 1, num_mels]; StopIteration at the end."""
        ...

    @property
    def done(self) -> bool:
        """Every chunk has been returned, or :meth:`close` was called."""
        ...

    @property
    def symbol_frames(self) -> Sequence[int]:
        """Frames each input symbol lasts, in symbol order (after speed); they sum
        to the frames the stream makes. Empty when the model cannot say."""
        ...

    def close(self) -> None:
        """Stop decoding (callable from any thread): a batch running this stream
        drops it at its next round; later calls see it ended."""
        ...


class AcousticModel(Protocol):
    """A loaded symbols-to-mel model for one voice.

    Built by a factory such as :func:`acoustic_svc.load_acoustic_model`. Mels are
    ``float32 [frames, num_mels]``, one frame per ``hop_length`` samples of audio at
    ``sample_rate``. Bad input (malformed symbols, unknown phone, emotion or speaker,
    speed out of range) raises :class:`tts_common.errors.InvalidInput` with a message
    saying what to fix. Methods may be called from several threads at once.
    """

    @property
    def voice(self) -> str:
        """Voice name, as listed in the model dir's voices.json."""
        ...

    @property
    def revision(self) -> str:
        """SHA-256 hex over the am config and checkpoint; changes with any weight."""
        ...

    @property
    def num_mels(self) -> int:
        """Mel bins per frame."""
        ...

    @property
    def hop_length(self) -> int:
        """Audio samples per mel frame."""
        ...

    @property
    def sample_rate(self) -> int:
        """Sample rate, in Hz, of the audio the mel describes."""
        ...

    @property
    def emotions(self) -> Sequence[str]:
        """Emotion ids a request may ask for, without the ``emotion_`` prefix."""
        ...

    @property
    def speakers(self) -> Sequence[str]:
        """Speaker ids a request may ask for."""
        ...

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
        """The whole sentence's mel.

        Args:
            symbols: KAN-TTS symbol string.
            speed: Speaking-rate multiplier on the predicted durations.
            emotion: Emotion put on every token; None keeps the symbols' own.
            speaker: Speaker put on every token; None keeps the symbols' own.
            pitch_semitones: Pitch shift of voiced phones, -12 to +12.
            energy_shift: Energy shift of spoken phones, in standard deviations.

        Returns:
            float32 [frames, num_mels].
        """
        ...

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
    ) -> MelStream:
        """The mel in chunks as decoder steps finish; they concatenate to :meth:`mel`.

        Blocking work happens both in this call (input checks, duration prediction)
        and in each ``next()`` or :meth:`next_chunks` (decoder steps), so callers run
        both off the event loop. Input errors raise here or at the first ``next()``.

        Args:
            symbols: KAN-TTS symbol string.
            speed: Speaking-rate multiplier on the predicted durations.
            emotion: Emotion put on every token; None keeps the symbols' own.
            speaker: Speaker put on every token; None keeps the symbols' own.
            chunk_steps: Decoder steps per chunk (each step makes a few frames).
            pitch_semitones: Pitch shift of voiced phones, -12 to +12; durations
                do not change.
            energy_shift: Energy shift of spoken phones, in standard deviations.

        Yields:
            float32 [n, num_mels] chunks, n >= 1.
        """
        ...

    def next_chunks(self, streams: Sequence[MelStream]) -> list[np.ndarray | None]:
        """The next chunk of each of ``streams`` (None for one that has ended), with
        the decoder steps of all of them run as batched forward passes.

        Each chunk is what ``next()`` on that stream alone would give (to float
        rounding); a stream that is closed meanwhile is dropped at its next round.

        Args:
            streams: Made by this model's :meth:`stream_mel`, each at most once.
        """
        ...

    def close(self) -> None:
        """Release the weights; the object is unusable afterwards."""
        ...
