"""The vocoder adapter contract that the servicer programs against (no torch here)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

__all__ = ["Vocoder", "VocoderStream"]


class VocoderStream(Protocol):
    """One sentence being vocoded in chunks: opaque state owned by its vocoder.

    Made by :meth:`Vocoder.open_stream`; advanced only by that vocoder's
    :meth:`Vocoder.stream_batch`, one step at a time (never two steps at once).
    """

    @property
    def frames(self) -> int:
        """Mel frames received so far."""
        ...

    @property
    def ended(self) -> bool:
        """True once the last step has been run."""
        ...


class Vocoder(Protocol):
    """A loaded mel-to-waveform model for one voice.

    Built by a factory such as :func:`vocoder_svc.load_vocoder`. Mels are
    ``float32 [frames, num_mels]`` (the acoustic model's output, unchanged) and
    audio is ``float32 [frames * hop_length]`` in ``[-1, 1]`` at ``sample_rate``.
    Bad input raises :class:`tts_common.errors.InvalidInput` with a message
    saying what to fix.
    """

    @property
    def sample_rate(self) -> int:
        """Output sample rate in Hz."""
        ...

    @property
    def num_mels(self) -> int:
        """Mel bins per input frame."""
        ...

    @property
    def hop_length(self) -> int:
        """Output samples per input frame."""
        ...

    @property
    def revision(self) -> str:
        """Hash of the config and checkpoint; changes whenever the audio can change."""
        ...

    @property
    def causal(self) -> bool:
        """True when a frame's audio never depends on later frames (zero look-ahead)."""
        ...

    @property
    def context_frames(self) -> tuple[int, int]:
        """Input frames (before, after) each output frame's audio depends on."""
        ...

    def wave(self, mel: np.ndarray) -> np.ndarray:
        """Audio for one whole mel.

        Args:
            mel: float32 [frames, num_mels], frames >= 1, all values finite.

        Returns:
            float32 [frames * hop_length].
        """
        ...

    def stream_wave(self, mel_chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Audio for a mel that arrives in chunks, yielded as soon as it is final.

        The concatenated output equals :meth:`wave` of the concatenated input for
        any chunking. A causal model yields each chunk's audio when the chunk
        arrives; a non-causal one holds back its look-ahead frames until more mel
        or the end of the stream arrives.

        Args:
            mel_chunks: float32 [n_i, num_mels] arrays; empty chunks are skipped.

        Yields:
            float32 audio chunks, each a whole number of hops long.
        """
        ...

    def open_stream(self) -> VocoderStream:
        """State for a new streamed sentence (see :meth:`stream_batch`)."""
        ...

    def stream_batch(
        self, steps: Sequence[tuple[VocoderStream, np.ndarray, bool]]
    ) -> list[np.ndarray]:
        """Advance several streams in one forward pass.

        Each step is (stream, its next mel frames float32 [n, num_mels] with n >= 0,
        whether they are its last). Returns each stream's audio that became final,
        a whole number of hops, as :meth:`stream_wave` would yield it; the last step
        returns everything the stream still owes.

        Raises:
            InvalidInput: A bad mel, a stream that already ended, or a stream that
                ends without any frame.
        """
        ...

    def wave_batch(self, mels: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Audio for several mels of any lengths in one forward pass.

        Each result equals :meth:`wave` of that mel; padding never leaks into it.
        """
        ...

    def close(self) -> None:
        """Release the model; later calls raise :class:`tts_common.errors.NotReady`."""
        ...
