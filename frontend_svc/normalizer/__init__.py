"""Text normalization: written Chinese (digits, symbols, units...) to spoken Chinese.

Library part: OpenCC tables (traditional -> simplified, ``chars.py``). Hand-written
parts: integer reading (``numbers.py``), the ordered regex rules (``codes.py``,
``dates.py``, ``money.py``, ``measures.py`` with ``maths.py`` and ``units.py``) and
the house conventions (see CONVENTIONS.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from frontend_svc.normalizer import codes, dates, measures
from frontend_svc.normalizer.chars import CharNormalizer, strip_unpronounceable

__all__ = ["TextNormalizer"]

# Short lowercase letter runs inside Chinese text are acronyms (nba, vip, wto).
_ACRONYM_RE = re.compile(r"(?<![A-Za-z])[a-z]{2,4}(?![A-Za-z])")
# Letters typed one by one next to Chinese (加入了w t o, C C t v): one acronym.
_SPACED_LETTERS_RE = re.compile(
    r"(?:(?<=[\u4e00-\u9fff])\s?|^)(?:[A-Za-z] ){1,5}[A-Za-z](?=\s?[\u4e00-\u9fff]|$)"
    r"|(?<=[\u4e00-\u9fff])\s?(?:[A-Za-z] ){1,5}[A-Za-z](?![A-Za-z])"
)
_HAN_SPACE_RE = re.compile(
    r"(?<=[\u4e00-\u9fff，。！？：；、])\s+|\s+(?=[\u4e00-\u9fff，。！？：；、])"
)
_MAX_RULE_INPUT = 2000
"""Texts are normalized in pieces of about this many characters (bounds regex work)."""
_PIECE_RE = re.compile(
    rf".{{1,{_MAX_RULE_INPUT}}}(?:[。！？!?；;\n]|$)|.{{{_MAX_RULE_INPUT}}}", re.S
)


class TextNormalizer:
    """Callable ``text -> spoken text``; build once (loads the OpenCC tables)."""

    def __init__(self, is_word: Callable[[str], bool] = lambda word: False) -> None:
        """``is_word``: whether a lowercase Latin run is an English word to keep as
        written (not upper-cased into an acronym); the frontend passes the English
        dictionary's test."""
        self._chars = CharNormalizer()
        self._rules = (
            codes.ADDRESS_RULES + dates.RULES + codes.PHONE_RULES + measures.RULES
        )
        self._is_word = is_word

    def __call__(self, text: str) -> str:
        """Normalize ``text``; never raises on odd input, returns ``""`` for nothing."""
        text = self._chars(text)
        return "".join(self._piece(m.group()) for m in _PIECE_RE.finditer(text))

    def _piece(self, text: str) -> str:
        for pattern, fn in self._rules:
            text = pattern.sub(fn, text)
        if _has_han(text):  # after the unit rules, which need lowercase (kg, ms)
            text = _SPACED_LETTERS_RE.sub(_spaced_letters, text)
            text = _ACRONYM_RE.sub(lambda m: _acronym(m, text, self._is_word), text)
        text = strip_unpronounceable(text)
        return _HAN_SPACE_RE.sub("", text)


def _spaced_letters(m: re.Match[str]) -> str:
    return m.group().replace(" ", "").upper()


def _has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _acronym(m: re.Match[str], text: str, is_word: Callable[[str], bool]) -> str:
    """Uppercase a short lowercase run only where it touches Chinese text, and is
    not an English word of 3 or 4 letters (我说yes, 下载app: read as words where
    the voice speaks English; 2 letters, or a dictionary entry that is the letters
    spelled, stay acronyms: id, nba, cpu)."""
    before = text[m.start() - 1] if m.start() else ""
    after = text[m.end()] if m.end() < len(text) else ""
    touches = any("\u4e00" <= c <= "\u9fff" for c in (before, after))
    word = m.group()
    if not touches or (len(word) >= 3 and is_word(word)):
        return word
    return word.upper()
