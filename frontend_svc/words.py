"""Shared word-level data types and character classes of the frontend."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HAN_CLASS = "\u4e00-\u9fff\u3400-\u4dbf"
"""The Chinese characters that get a pinyin (CJK Unified Ideographs + Extension A)."""

HAN_RE = re.compile(f"[{HAN_CLASS}]")
HAN_RUN_RE = re.compile(f"[{HAN_CLASS}]+")


def is_han(char: str) -> bool:
    """Whether ``char`` is one of the Chinese characters that get a pinyin."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


@dataclass
class Word:
    """One segmented word with its readings.

    ``kind`` is ``han`` (Chinese word: one syllable per character), ``latin``
    (letters, spelled or read by the letter table; one syllable per entry),
    ``punct`` (punctuation that drives prosodic breaks) or ``space``.
    """

    text: str
    kind: str
    syllables: list[str] = field(default_factory=list)
    """Tone-number pinyin, e.g. ``hao3``; ``er5`` marks an erhua 儿."""
    fixed: bool = False
    """True when a lexicon gave the reading: sandhi then leaves it alone."""
    erhua: list[bool] = field(default_factory=list)
    """Per syllable: True for a 儿 that merges into the previous syllable."""
