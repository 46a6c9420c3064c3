"""Prosodic breaks (#1-#4) and sentence splitting.

Break levels follow KAN-TTS/ttsfrd usage: ``#1`` between prosodic words, ``#2`` at a
phrase boundary inside a clause, ``#3`` at clause punctuation (comma level) and ``#4``
at the end of a sentence. Phrase boundaries are placed by a length heuristic (no trained
break model ships with any PyPI package): a clause running past ``PHRASE_SYLLABLES``
syllables gets a ``#2`` before the next function word or multi-syllable word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from frontend_svc.tokens import Unit

MAX_TOKENS = 256
"""Most tokens (phones and breaks) in one sentence's symbol string."""
PHRASE_SYLLABLES = 7
"""Syllables after which a clause prefers a ``#2`` phrase break."""


_SENTENCE_END = frozenset("。！？!?；;…\n")
_CLAUSE = frozenset("，,、：:—～~")
# Words that usually open a new phrase: conjunctions, prepositions, some adverbs.
_PHRASE_OPENERS = frozenset(
    [
        "和",
        "与",
        "跟",
        "及",
        "或",
        "而",
        "但",
        "但是",
        "并",
        "并且",
        "而且",
        "因为",
        "所以",
        "如果",
        "虽然",
        "然后",
        "以及",
        "还是",
        "或者",
        "在",
        "对",
        "把",
        "被",
        "从",
        "向",
        "给",
        "为",
        "为了",
        "关于",
        "按照",
        "根据",
        "通过",
        "由",
        "让",
        "使",
        "将",
        "于",
        "就",
        "也",
        "都",
        "又",
        "才",
        "再",
        "已经",
        "正在",
        "可以",
        "能够",
        "需要",
        "应该",
        "没有",
        "不是",
        "就是",
        "的话",
    ]
)
_SPLIT_RE = re.compile(r"[^。！？!?；;…\n]*(?:[。！？!?；;…\n]+[”’」』）)\"']*|$)")


def split_sentences(text: str) -> list[tuple[str, bool]]:
    """Split text after sentence-final punctuation (or a line break), keeping it;
    blank pieces dropped. Each piece says whether such a mark ended it (the last
    may just stop, as may text that SSML markup interrupts)."""
    return [(piece, ended) for _, piece, ended in split_sentence_spans(text)]


def split_sentence_spans(text: str) -> list[tuple[int, str, bool]]:
    """:func:`split_sentences` with the offset of each (stripped) piece in ``text``."""
    out = []
    for match in _SPLIT_RE.finditer(text):
        piece = match.group()
        stripped = piece.strip()
        if stripped:
            ended = any(
                c in _SENTENCE_END for c in piece.rstrip(" \t\"'”’」』）)")[-1:]
            )
            start = match.start() + len(piece) - len(piece.lstrip())
            out.append((start, stripped, ended))
    return out


def break_for_punct(char: str) -> int:
    """Break level that a punctuation character imposes on the preceding unit."""
    if char in _SENTENCE_END:
        return 4
    if char in _CLAUSE:
        return 3
    return 0


def assign_breaks(units: list[Unit], explicit: Sequence[int]) -> list[Unit]:
    """Fill break levels: ``explicit[i]`` is what punctuation after unit i imposed."""
    since = 0
    for i, unit in enumerate(units):
        unit.brk = explicit[i]
        since += len(unit.syllables)
        if unit.brk >= 2:
            since = 0
            continue
        nxt = units[i + 1] if i + 1 < len(units) else None
        if nxt is None:
            continue
        opener = nxt.text in _PHRASE_OPENERS or len(nxt.syllables) >= 3
        if since >= PHRASE_SYLLABLES and (opener or since >= 2 * PHRASE_SYLLABLES):
            unit.brk = 2
            since = 0
        else:
            unit.brk = max(unit.brk, 1)
    if units:
        units[-1].brk = 4
    return units


def split_long(units: list[Unit], limit: int = MAX_TOKENS) -> list[list[Unit]]:
    """Cut a sentence at its strongest breaks so no piece exceeds ``limit`` tokens.

    The cut point is the last ``#3`` that fits, else the last ``#2``, else ``#1``; the
    break at the cut becomes ``#4``. A unit longer than ``limit`` alone (not produced
    by this frontend, whose words are short) is kept whole rather than broken.
    """
    pieces: list[list[Unit]] = []
    start, n = 0, len(units)
    while start < n:
        total, end = 0, start
        while end < n:
            cost = units[end].token_count() + (0 if units[end].brk else 1)
            if total + cost > limit and end > start:
                break
            total += cost
            end += 1
        if end == n:
            pieces.append(units[start:])
            break
        cut = start + _best_cut(units[start:end])
        piece = units[start : cut + 1]
        piece[-1].brk = 4
        pieces.append(piece)
        start = cut + 1
    return pieces


def _best_cut(candidates: Sequence[Unit]) -> int:
    for level in (3, 2, 1):
        for i in range(len(candidates) - 1, -1, -1):
            if candidates[i].brk == level and i >= len(candidates) // 3:
                return i
    return len(candidates) - 1


def joined_text(units: Iterable[Unit]) -> str:
    """Text of ``units`` concatenated (for a split sentence's ``.text``)."""
    return "".join(u.text for u in units)
