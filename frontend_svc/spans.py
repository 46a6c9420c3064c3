"""Where each word and SSML mark stands in a sentence's symbols (for timings).

Indices count the tokens of ``Sentence.symbols.split()``. A word span runs from the
first phone of the word to its last phone: the break token after a word (``#1`` ...
``#4``) belongs to no word, punctuation and spaces are no words, and a spelled Latin
word includes the ``#1`` between its letters. CONVENTIONS.md states the rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from frontend_svc.sentence import Mark, Sentence, WordSpan
from frontend_svc.tokens import Unit

__all__ = ["place_marks", "word_spans"]


def word_spans(units: Sequence[Unit]) -> list[WordSpan]:
    """The spans of the words whose units (one sentence's, in order) are given."""
    spans: list[WordSpan] = []
    pos, word = 0, -1
    for unit in units:
        phones = unit.phone_count()
        if spans and unit.word == word:  # the next letter of a spelled word
            last = spans[-1]
            spans[-1] = WordSpan(
                last.text + unit.text,
                last.first_symbol,
                pos + phones - last.first_symbol,
            )
        else:
            spans.append(WordSpan(unit.text, pos, phones))
        word = unit.word
        pos += phones + (1 if unit.brk else 0)
    return spans


def place_marks(
    pieces: Sequence[tuple[Sentence, Sequence[Unit]]], marks: Sequence[tuple[str, int]]
) -> None:
    """Attach ``marks`` (name, offset in the analyzed text; in document order) to
    the sentences made from that text.

    A mark stands before the first word that starts at or after its offset (in that
    word's sentence, even when sentence punctuation lies between); inside a Chinese
    word, before the syllable of the next character. With no word after it, it is at
    the end of the last sentence (index = its symbol count).
    """
    if not pieces or not marks:
        return
    flat: list[tuple[Sentence, Unit, int]] = []
    for sentence, units in pieces:
        pos = 0
        for unit in units:
            flat.append((sentence, unit, pos))
            pos += unit.token_count()
    last, end = pieces[-1][0], sum(u.token_count() for u in pieces[-1][1])
    i = 0
    for name, offset in marks:
        while i < len(flat) and flat[i][1].start + len(flat[i][1].text) <= offset:
            i += 1
        if i == len(flat):
            last.marks.append(Mark(name, end))
            continue
        sentence, unit, first = flat[i]
        inside = offset - unit.start
        sentence.marks.append(
            Mark(name, first + (unit.char_phones[inside] if inside > 0 else 0))
        )
