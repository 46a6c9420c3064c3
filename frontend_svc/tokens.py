"""Words with surface pinyin -> prosodic units -> KAN-TTS symbol strings (§3.2)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from frontend_svc.phones import LETTERS, PhoneMapper
from frontend_svc.words import Word
from tts_common.symbols import Token, format_symbols

if TYPE_CHECKING:
    from frontend_svc.english import EnglishReader

_LOGGER = logging.getLogger(__name__)
_LONGEST = 30
"""Longest Latin token read as one English word (longer runs are spelled)."""


@dataclass
class Unit:
    """A prosodic word: its syllables as phones, and the break that follows it."""

    text: str
    syllables: list[tuple[tuple[str, ...], int]]
    """(phones, tone 1-5) per spoken syllable, erhua already merged."""
    brk: int = 0
    """Break level after the unit: 0 = none yet, 1..4 = ``#1``..``#4``."""
    pinyin: list[str] = field(default_factory=list)
    """Surface pinyin of the unit (for debugging and tests)."""
    start: int = 0
    """Offset of ``text`` in the analyzed text (for word spans and marks)."""
    word: int = 0
    """Index of the segmented word it belongs to (a spelled word has one unit a
    letter)."""
    char_phones: tuple[int, ...] = ()
    """Per character of ``text``: the phone (counted from the unit's first) where
    it starts being spoken; a merged erhua 儿 starts after its syllable."""

    def phone_count(self) -> int:
        """Phones of the unit, without its break token."""
        return sum(len(p) for p, _ in self.syllables)

    def token_count(self) -> int:
        """Phones plus the break token (if any)."""
        return self.phone_count() + (1 if self.brk else 0)


def word_to_units(
    word: Word,
    mapper: PhoneMapper,
    start: int = 0,
    index: int = 0,
    english: EnglishReader | None = None,
) -> list[Unit]:
    """Phones for one han or latin word; ``start`` is the word's offset in the
    text, ``index`` its place in the words. With ``english`` (the voice has English
    phones) a latin word is one unit of English syllables; without, its letters
    become one unit each, spelled with Mandarin letter names."""
    if word.kind == "latin" and english is not None and len(word.text) > _LONGEST:
        return [  # a run no word is as long as: letter by letter, one unit each
            Unit(ch, english.read(ch), pinyin=[ch], start=start + k, word=index,
                 char_phones=(0,))
            for k, ch in enumerate(word.text)
            if ch.isascii() and ch.isalpha()
        ]  # fmt: skip
    if word.kind == "latin" and english is not None:
        english_sylls = english.read(word.text)
        if not english_sylls:
            return []
        unit = Unit(
            word.text,
            list(english_sylls),
            pinyin=["-".join(p) + str(t) for p, t in english_sylls],
            char_phones=(0,) * len(word.text),
        )
        unit.start, unit.word = start, index
        return [unit]
    if word.kind == "latin":
        units = []
        for k, letter in enumerate(word.text):
            sylls = LETTERS.get(letter.upper())
            if sylls:
                unit = _unit(letter, list(sylls), [False] * len(sylls), mapper)
                unit.start, unit.word = start + k, index
                units.append(unit)
        return units
    if word.kind == "han" and word.syllables:
        unit = _unit(word.text, word.syllables, word.erhua, mapper)
        unit.start, unit.word = start, index
        return [unit] if unit.syllables else []
    return []


def _unit(text: str, sylls: list[str], erhua: list[bool], mapper: PhoneMapper) -> Unit:
    out: list[tuple[tuple[str, ...], int]] = []
    starts: list[int] = []  # per syllable of ``sylls``: its first phone
    prev_base, count = "", 0
    for syl, erh in zip(sylls, erhua or [False] * len(sylls), strict=True):
        base, tone = syl[:-1], int(syl[-1])
        if erh and out:
            merged = mapper.erhua(prev_base)
            if merged is not None:
                count += len(merged) - len(out[-1][0])
                out[-1] = (merged, out[-1][1])
                starts.append(count)
                continue
        phones = mapper.phones(base)
        starts.append(count)
        if phones is None:
            _LOGGER.warning("no phones for syllable %r; skipped", syl)
            continue
        out.append((phones, tone))
        prev_base, count = base, count + len(phones)
    # A han word has one syllable a character; a letter is one character.
    per_char = starts if len(starts) == len(text) else [0] * len(text)
    return Unit(text, out, pinyin=list(sylls), char_phones=tuple(per_char))


def render(
    units: Sequence[Unit], emotion: str | None = None, speaker: str | None = None
) -> str:
    """The KAN-TTS symbol string for ``units`` (the last one must carry ``#4``)."""
    phone_emo = f"emotion_{emotion}" if emotion else "emotion_neutral"
    break_emo = f"emotion_{emotion}" if emotion else "emotion_none"
    spk = speaker or "F7"
    tokens: list[Token] = []
    for unit in units:
        flat = [(ph, tone, i, len(phones)) for phones, tone in unit.syllables
                for i, ph in enumerate(phones)]  # fmt: skip
        for j, (phone, tone, i, n) in enumerate(flat):
            tokens.append(
                Token(
                    phone,
                    f"tone{tone}",
                    _position("s", i, n),
                    _position("word", j, len(flat)),
                    phone_emo,
                    spk,
                )
            )
        if unit.brk:
            tokens.append(
                Token(
                    f"#{unit.brk}", "tone_none", "s_none", "word_none", break_emo, spk
                )
            )
    return format_symbols(tokens)


def _position(prefix: str, i: int, n: int) -> str:
    if n == 1:
        return f"{prefix}_both"
    if i == 0:
        return f"{prefix}_begin"
    return f"{prefix}_end" if i == n - 1 else f"{prefix}_middle"
