"""KAN-TTS symbol strings: the contract between the frontend and the acoustic model.

A symbol string is a space-separated list of tokens
``{phone$tone$syllable_flag$word_segment$emotion$speaker}``. The inventories below
reproduce KAN-TTS's PinYin linguistic unit (``kantts/utils/ling_unit``): each list is
the base list followed by the specials ``_`` (pad), ``~`` (EOS) and ``@[MASK]``, and an
id is a position in that list. The phone and tone orders are read from the MIT data
files shipped in ``tts_common/kantts_data`` so they cannot drift from the reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tts_common.errors import InvalidInput

__all__ = [
    "BREAKS",
    "EMOTIONS",
    "SPECIALS",
    "SYLLABLE_FLAGS",
    "WORD_SEGMENTS",
    "Token",
    "format_symbols",
    "parse_symbols",
    "phone_inventory",
    "tone_inventory",
    "voiced_phones",
]

_DATA = Path(__file__).with_name("kantts_data")

SPECIALS: tuple[str, ...] = ("_", "~", "@[MASK]")
"""Pad, end-of-sequence and mask, appended to every inventory in this order."""

BREAKS: tuple[str, ...] = ("#1", "#2", "#3", "#4")
"""Prosodic break tokens: word, phrase, comma-level, sentence end."""

SYLLABLE_FLAGS: tuple[str, ...] = ("s_begin", "s_end", "s_none", "s_both", "s_middle")
WORD_SEGMENTS: tuple[str, ...] = (
    "word_begin",
    "word_end",
    "word_middle",
    "word_both",
    "word_none",
)
EMOTIONS: tuple[str, ...] = (
    "emotion_none",
    "emotion_neutral",
    "emotion_angry",
    "emotion_disgust",
    "emotion_fear",
    "emotion_happy",
    "emotion_sad",
    "emotion_surprise",
    "emotion_calm",
    "emotion_gentle",
    "emotion_relax",
    "emotion_lyrical",
    "emotion_serious",
    "emotion_disgruntled",
    "emotion_satisfied",
    "emotion_disappointed",
    "emotion_excited",
    "emotion_anxiety",
    "emotion_jealousy",
    "emotion_hate",
    "emotion_pity",
    "emotion_pleasure",
    "emotion_arousal",
    "emotion_dominance",
    *tuple(f"emotion_placeholder{i}" for i in range(1, 10)),
)


@lru_cache(maxsize=1)
def phone_inventory() -> tuple[str, ...]:
    """Phones in sy-id order: the PhoneSet.xml names, then the four breaks (no specials)."""
    text = (_DATA / "PhoneSet.xml").read_text(encoding="utf-8")
    names = re.findall(r"<name>\s*([^<\s]+)\s*</name>", text)
    return tuple(names) + BREAKS


@lru_cache(maxsize=1)
def voiced_phones() -> frozenset[str]:
    """Phones PhoneSet.xml marks ``<uv>voiced</uv>``: the ones that carry pitch."""
    text = (_DATA / "PhoneSet.xml").read_text(encoding="utf-8")
    phones = re.findall(r"<phone>(.*?)</phone>", text, re.S)
    return frozenset(
        m.group(1)
        for p in phones
        if "<uv>voiced</uv>" in p and (m := re.search(r"<name>\s*([^<\s]+)", p))
    )


@lru_cache(maxsize=1)
def tone_inventory() -> tuple[str, ...]:
    """Tones in tone-id order, from tonelist.txt (an empty line is ``tone_none``)."""
    lines = (_DATA / "tonelist.txt").read_text(encoding="utf-8").splitlines()
    return tuple(f"tone{x.strip()}" if x.strip() else "tone_none" for x in lines)


@dataclass(frozen=True)
class Token:
    """One KAN-TTS token; field names follow KAN-TTS's ``lfeat_type_list``."""

    phone: str
    """Phone such as ``n_c`` or ``ga``, or a break ``#1``..``#4``."""
    tone: str
    """``tone1``..``tone5``, ``tone0`` or ``tone_none``."""
    syllable_flag: str
    """Position of the phone in its syllable (``s_begin`` ...)."""
    word_segment: str
    """Position of the phone in its word (``word_begin`` ...)."""
    emotion: str
    """``emotion_*`` category."""
    speaker: str
    """Speaker name from the voice's speaker list, e.g. ``F7``."""

    def render(self) -> str:
        """The token in its ``{a$b$c$d$e$f}`` text form."""
        fields = (
            self.phone,
            self.tone,
            self.syllable_flag,
            self.word_segment,
            self.emotion,
            self.speaker,
        )
        return "{" + "$".join(fields) + "}"


def parse_symbols(symbols: str) -> list[Token]:
    """Split a symbol string into tokens, rejecting anything malformed.

    Unlike the reference (which crashes on double spaces and silently drops unknown
    phones) every problem is an :class:`InvalidInput` naming the token's position.
    Whitespace runs of any length separate tokens.
    """
    if not isinstance(symbols, str) or not symbols.strip():
        raise InvalidInput("symbols are empty: give at least one {phone$...} token")
    tokens = []
    for pos, raw in enumerate(symbols.split()):
        if not (raw.startswith("{") and raw.endswith("}")):
            raise InvalidInput(
                f"symbol token {pos} ({raw[:40]!r}) is not wrapped in braces"
            )
        fields = raw[1:-1].split("$")
        if len(fields) != 6 or not all(fields):
            raise InvalidInput(
                f"symbol token {pos} ({raw[:60]!r}) must have 6 non-empty '$'-separated "
                "fields: phone$tone$syllable_flag$word_segment$emotion$speaker"
            )
        tokens.append(Token(*fields))
    return tokens


def format_symbols(tokens: list[Token]) -> str:
    """Join tokens back into a symbol string (single spaces, as ttsfrd writes)."""
    return " ".join(t.render() for t in tokens)
