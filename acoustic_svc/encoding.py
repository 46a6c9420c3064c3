"""Symbol strings -> model ids for one voice, with per-request emotion and speaker.

Ids follow KAN-TTS ``KanTtsLinguisticUnit``: the position of a value in its inventory
(base list + ``_``, ``~``, ``@[MASK]``). Unknown values are rejected with the list
of valid ones, where the reference silently drops unknown phones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tts_common.errors import InvalidInput
from tts_common.symbols import (
    BREAKS,
    EMOTIONS,
    SPECIALS,
    SYLLABLE_FLAGS,
    WORD_SEGMENTS,
    Token,
    parse_symbols,
    phone_inventory,
    tone_inventory,
    voiced_phones,
)

__all__ = ["EncodedSymbols", "SymbolEncoder"]

_EMOTION_PREFIX = "emotion_"
_FRONTEND_SPEAKER = "F7"
_SILENT = frozenset({"pau", "sil", *BREAKS})


@dataclass(frozen=True)
class EncodedSymbols:
    """Model inputs for one sentence (EOS not included, as the model never sees it)."""

    ling: np.ndarray
    """int64 [T, 4]: sy, tone, syllable_flag, word_segment."""
    emotion: np.ndarray
    """int64 [T]."""
    speaker: np.ndarray
    """int64 [T]."""
    voiced: np.ndarray
    """bool [T]: phones PhoneSet.xml marks voiced (their pitch can be shifted)."""
    spoken: np.ndarray
    """bool [T]: every phone but pauses and breaks (their energy can be shifted)."""


class SymbolEncoder:
    """Encodes symbol strings for a voice with the given speaker list."""

    def __init__(
        self,
        speaker_list: list[str],
        has_mask: bool = True,
        emotions: list[str] | None = None,
        speakers: list[str] | None = None,
    ):
        """Args:
        speaker_list: ``linguistic_unit.speaker_list`` of am/config.yaml (id order).
        has_mask: keep the ``@[MASK]`` row (ModelScope does unless told not to).
        emotions: requestable emotions without prefix (voice_info.json), or None
            for the full KAN-TTS inventory minus ``none`` and placeholders.
        speakers: requestable speakers (voice_info.json), or None for all.
        """
        specials = SPECIALS if has_mask else SPECIALS[:2]
        self._tables = {
            "phone": _index(phone_inventory() + specials),
            "tone": _index(tone_inventory() + specials),
            "syllable_flag": _index(SYLLABLE_FLAGS + specials),
            "word_segment": _index(WORD_SEGMENTS + specials),
            "emotion": _index(EMOTIONS + specials),
            "speaker": _index(tuple(speaker_list) + specials),
        }
        default_emotions = [
            e[len(_EMOTION_PREFIX) :]
            for e in EMOTIONS
            if e != "emotion_none" and "placeholder" not in e
        ]
        self.emotions: tuple[str, ...] = tuple(emotions or default_emotions)
        self.speakers: tuple[str, ...] = tuple(speakers or speaker_list)
        for name in self.emotions:
            if _EMOTION_PREFIX + name not in self._tables["emotion"]:
                raise ValueError(f"voice lists unknown emotion {name!r}")
        for name in self.speakers:
            if name not in self._tables["speaker"]:
                raise ValueError(f"voice lists speaker {name!r} not in speaker_list")

    def sizes(self) -> dict[str, int]:
        """Embedding table sizes, as the model config's ``n_*`` fields."""
        t = self._tables
        return {
            "n_sy": len(t["phone"]),
            "n_tone": len(t["tone"]),
            "n_syllable_flag": len(t["syllable_flag"]),
            "n_word_segment": len(t["word_segment"]),
            "n_emotion": len(t["emotion"]),
            "n_speaker": len(t["speaker"]),
        }

    def rewrite(
        self, tokens: list[Token], emotion: str | None, speaker: str | None
    ) -> list[Token]:
        """Put the requested emotion/speaker on every token (breaks too), as in
        KAN-TTS training data; None keeps what the symbols say."""
        if emotion is not None and emotion not in self.emotions:
            raise InvalidInput(
                f"unknown emotion {emotion!r}; this voice has: {', '.join(self.emotions)}"
            )
        if speaker is not None and speaker not in self.speakers:
            raise InvalidInput(
                f"unknown speaker {speaker!r}; this voice has: {', '.join(self.speakers)}"
            )
        changes: dict[str, str] = {}
        if speaker is None and _FRONTEND_SPEAKER not in self._tables["speaker"]:
            # ttsfrd and our frontend always write F7; like KAN-TTS text_to_wav, a
            # voice without F7 speaks with the first speaker of its list instead.
            speaker = next(iter(self._tables["speaker"]))
        if emotion is not None:
            changes["emotion"] = _EMOTION_PREFIX + emotion
        if speaker is not None:
            changes["speaker"] = speaker
        return [replace(t, **changes) for t in tokens] if changes else tokens

    def encode(
        self, symbols: str, emotion: str | None = None, speaker: str | None = None
    ) -> EncodedSymbols:
        """Parse, rewrite and encode a symbol string; any bad field is InvalidInput."""
        tokens = self.rewrite(parse_symbols(symbols), emotion, speaker)
        rows = [
            [self._id(pos, t, field) for field in self._tables]
            for pos, t in enumerate(tokens)
        ]
        ids = np.asarray(rows, dtype=np.int64)
        voiced = voiced_phones()
        return EncodedSymbols(
            ling=ids[:, :4].copy(),
            emotion=ids[:, 4].copy(),
            speaker=ids[:, 5].copy(),
            voiced=np.array([t.phone in voiced for t in tokens], dtype=bool),
            spoken=np.array([t.phone not in _SILENT for t in tokens], dtype=bool),
        )

    def _id(self, pos: int, token: Token, field: str) -> int:
        value = getattr(token, field)
        table = self._tables[field]
        found = table.get(value)
        if found is None or value in SPECIALS:
            hint = ""
            if field in ("emotion", "speaker"):
                hint = "; valid: " + ", ".join(
                    sorted(k for k in table if k not in SPECIALS)
                )
            raise InvalidInput(f"symbol token {pos}: unknown {field} {value!r}{hint}")
        return found


def _index(values: tuple[str, ...]) -> dict[str, int]:
    return {v: i for i, v in enumerate(values)}
