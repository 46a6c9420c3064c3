"""What the frontend hands out (:class:`Sentence`) and its emotion/speaker check.

Its own module so that :mod:`frontend_svc.ssml` needs nothing from
:mod:`frontend_svc.frontend`, which calls into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tts_common.errors import InvalidInput
from tts_common.symbols import EMOTIONS

__all__ = ["Sentence", "check_voice"]

_SPEAKER_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


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
