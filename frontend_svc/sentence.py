"""What the frontend hands out (:class:`Sentence`) and its emotion/speaker check.

Its own module so that :mod:`frontend_svc.ssml` needs nothing from
:mod:`frontend_svc.frontend`, which calls into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from tts_common.errors import InvalidInput
from tts_common.symbols import EMOTIONS

__all__ = ["Mark", "Sentence", "WordSpan", "check_voice"]

_SPEAKER_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class WordSpan(NamedTuple):
    """A word of the segmentation and the symbols that speak it."""

    text: str
    """The word as normalized (a Latin word as written, spelled in the symbols)."""
    first_symbol: int
    """Index of its first symbol in ``Sentence.symbols.split()``."""
    num_symbols: int
    """Number of symbols (a spelled word includes the ``#1`` between its letters)."""


class Mark(NamedTuple):
    """An SSML ``<mark>``: it stands before symbol ``symbol_index`` (= the symbol
    count when it stands at the end)."""

    name: str
    symbol_index: int


@dataclass
class Sentence:
    """One synthesis unit: a sentence (or a piece of an over-long one)."""

    text: str
    """Normalized text of the sentence."""
    symbols: str
    """KAN-TTS symbol string, ending with ``#4``."""
    pinyin: list[str] = field(default_factory=list)
    """Surface pinyin of the sentence's syllables (letters spelled), for debugging."""
    break_after_ms: int = 0
    """Extra silence after the sentence (SSML ``<break>``), milliseconds."""
    pause_after_ms: int = 0
    """Natural pause after the sentence (a sentence or clause pause, none after
    the last sentence), milliseconds; an SSML ``<break>`` here replaces it."""
    rate: float = 1.0
    """Speaking-rate factor (SSML ``<prosody rate>``), 1.0 = normal."""
    volume: float = 1.0
    """Loudness factor (SSML ``<prosody volume>``), 1.0 = normal."""
    emotion: str | None = None
    """Emotion name written on the tokens (``None`` = default neutral)."""
    pitch_semitones: float = 0.0
    """Pitch shift (SSML ``<prosody pitch>``), semitones, 0 = the voice's own."""
    energy_shift: float = 0.0
    """Energy shift (SSML ``<emphasis>``), in standard deviations of the voice's
    normalised energy, 0 = none."""
    words: list[WordSpan] = field(default_factory=list)
    """The spoken words in order (punctuation excluded), see ``CONVENTIONS.md``."""
    marks: list[Mark] = field(default_factory=list)
    """SSML marks in the sentence, in document order."""


def check_voice(emotion: str | None, speaker: str | None) -> None:
    """Check an emotion name (KAN-TTS, e.g. ``happy``) and a speaker id.

    Raises:
        InvalidInput: The emotion is unknown or the speaker id malformed.
    """
    if emotion is not None and f"emotion_{emotion}" not in EMOTIONS[1:]:
        names = ", ".join(e.removeprefix("emotion_") for e in EMOTIONS[1:9])
        raise InvalidInput(f"unknown emotion {emotion[:40]!r}; use one of {names}, ...")
    if speaker is not None and not _SPEAKER_RE.match(speaker):
        raise InvalidInput("speaker must be 1-64 letters, digits, '_', '-' or '.'")
