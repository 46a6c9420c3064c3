"""The Mandarin text frontend: normalization, G2P, sandhi, prosody and KAN-TTS symbols."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from frontend_svc.budget import Budget
from frontend_svc.sentence import Sentence, check_voice
from tts_common.errors import InvalidInput
from tts_common.pauses import SENTENCE_PAUSE_MS, SPLIT_PAUSE_MS

if TYPE_CHECKING:
    from frontend_svc.tokens import Unit

__all__ = ["MAX_TEXT_CHARS", "Frontend", "Sentence"]

_LOGGER = logging.getLogger(__name__)

MAX_TEXT_CHARS = 1_000_000
"""Longest input accepted; the servicer is expected to enforce a smaller limit."""


class Frontend:
    """Text -> sentences of KAN-TTS symbols. Build once; not thread-safe per call.

    Args:
        lexicon_path: Optional deployment pronunciation dictionary
            (``word<TAB>pin1 yin1`` lines), applied before the models.
    """

    def __init__(self, lexicon_path: str | Path | None = None) -> None:
        from frontend_svc.english import EnglishReader, is_dictionary_word
        from frontend_svc.g2p import G2P, load_lexicon
        from frontend_svc.normalizer import TextNormalizer
        from frontend_svc.phones import PhoneMapper
        from frontend_svc.sandhi import ToneSandhi

        try:
            lexicon = load_lexicon(lexicon_path)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot use lexicon {lexicon_path}: {exc}") from exc
        self._normalize = TextNormalizer(is_dictionary_word)
        self._g2p = G2P(lexicon)
        self._sandhi = ToneSandhi(self._g2p.is_word)
        self._phones = PhoneMapper()
        self._english = EnglishReader()
        self._speak_english = True
        _LOGGER.info("frontend ready (lexicon: %s)", lexicon_path or "none")

    def normalize(self, text: str) -> str:
        """Written text -> spoken Chinese text (numbers, units, symbols read out)."""
        return self._normalize(_check_text(text))

    def g2p(self, text: str, sandhi: bool = True) -> list[str]:
        """One tone-number pinyin per Chinese character of ``text`` (no normalization).

        Tone 5 is neutral, ü is ``v``; 儿 always keeps its own syllable (``er5`` when
        it is the erhua suffix). Other characters are skipped.
        """
        words = self._g2p.annotate(_check_text(text))
        if sandhi:
            self._sandhi.apply(words)
        return [s for w in words if w.kind == "han" for s in w.syllables]

    def segmented_pinyin(self, segments: Sequence[str]) -> list[str]:
        """Surface pinyin (sandhi applied) of the text ``segments`` join to, read
        with that segmentation instead of jieba's (to test rules, not the segmenter).
        """
        words = self._g2p.annotate("".join(segments), segments=list(segments))
        self._sandhi.apply(words)
        return [s for w in words for s in w.syllables]

    def validate_lexicon(self, lexicon: Mapping[str, str]) -> None:
        """Check a per-request lexicon (``word -> "pin1 yin1"``).

        Raises:
            InvalidInput: An entry is malformed.
        """
        self._g2p.validate_lexicon(lexicon)

    def analyze(
        self,
        text: str,
        emotion: str | None = None,
        speaker: str | None = None,
        lexicon: Mapping[str, str] | None = None,
        *,
        budget: Budget | None = None,
        english: bool = True,
    ) -> list[Sentence]:
        """Normalize, split and convert ``text`` into sentences of KAN-TTS symbols.

        ``text`` may be SSML (starting with ``<speak``). Returns an empty list when
        nothing in the text can be spoken. ``budget`` bounds the characters spoken
        and is checked between pieces of work (see :mod:`frontend_svc.budget`).
        ``english``: the voice has the English phones (the servicer decides from
        the voice's inventory, :func:`frontend_svc.english.voice_speaks_english`),
        so Latin words are read in English; else they are spelled with Mandarin
        letter names.

        Raises:
            InvalidInput: unknown emotion, malformed speaker, lexicon or SSML, or
                text that expands past the budget.
            AnalysisStopped, DeadlineExceeded: The budget says stop.
        """
        _check_text(text)
        check_voice(emotion, speaker)
        if lexicon:
            self.validate_lexicon(lexicon)
        if budget is not None:
            budget.check()
        self._speak_english = english
        if text.lstrip().startswith(("<speak", "<?xml")):
            from frontend_svc.ssml import analyze_ssml

            out = analyze_ssml(self, text, emotion, speaker, lexicon, budget)
        else:
            normalized = self._normalize(text)
            out = self.analyze_plain(normalized, emotion, speaker, lexicon, budget)
        if out:
            out[-1].pause_after_ms = 0  # nothing follows: no pause to keep apart
        return out

    def analyze_plain(
        self,
        normalized: str,
        emotion: str | None,
        speaker: str | None,
        lexicon: Mapping[str, str] | None = None,
        budget: Budget | None = None,
        marks: Sequence[tuple[str, int]] = (),
    ) -> list[Sentence]:
        """Sentences for already-normalized text (also used by the SSML path);
        ``budget`` is charged the text's length and checked before each sentence.
        ``marks`` (name, offset in ``normalized``) are placed as
        :func:`frontend_svc.spans.place_marks` says; with no sentence they are lost."""
        from frontend_svc.prosody import split_sentence_spans
        from frontend_svc.spans import place_marks

        if budget is not None:
            budget.spend(len(normalized))
        pieces: list[tuple[Sentence, list[Unit]]] = []
        for start, sent, ended in split_sentence_spans(normalized):
            if budget is not None:
                budget.check()
            pieces.extend(self._sentence(sent, emotion, speaker, lexicon, ended, start))
        place_marks(pieces, marks)
        return [sentence for sentence, _ in pieces]

    def _sentence(
        self,
        text: str,
        emotion: str | None,
        speaker: str | None,
        lexicon: Mapping[str, str] | None,
        ended: bool = True,
        start: int = 0,
    ) -> list[tuple[Sentence, list[Unit]]]:
        """The sentence ``text`` in pieces of at most MAX_TOKENS tokens, each with
        its units; ``ended``: a sentence-final mark ended it, so a sentence pause
        follows; ``start``: its offset in the analyzed text."""
        from frontend_svc.prosody import (
            assign_breaks,
            break_for_punct,
            joined_text,
            split_long,
        )
        from frontend_svc.spans import word_spans
        from frontend_svc.tokens import render, word_to_units

        words = self._g2p.annotate(text, lexicon)
        self._sandhi.apply(words)
        english = self._english if self._speak_english else None
        if english is not None:
            from frontend_svc.english import join_latin

            words = join_latin(words)
        units: list[Unit] = []
        explicit: list[int] = []
        pos = start
        for index, word in enumerate(words):
            new = word_to_units(word, self._phones, pos, index, english)
            pos += len(word.text)
            if new:
                units.extend(new)
                explicit.extend([0] * len(new))
            elif units and word.kind in ("punct", "space"):
                level = 1 if word.kind == "space" else break_for_punct(word.text)
                explicit[-1] = max(explicit[-1], level)
        if not units:
            return []
        pieces = split_long(assign_breaks(units, explicit))
        return [
            (
                Sentence(
                    text=text if len(pieces) == 1 else joined_text(piece),
                    symbols=render(piece, emotion, speaker),
                    pinyin=[p for u in piece for p in u.pinyin],
                    emotion=emotion,
                    pause_after_ms=(
                        SPLIT_PAUSE_MS
                        if i < len(pieces) - 1
                        else SENTENCE_PAUSE_MS * ended
                    ),
                    words=word_spans(piece),
                ),
                piece,
            )
            for i, piece in enumerate(pieces)
        ]


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidInput("text must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"text has {len(text)} characters; at most {MAX_TEXT_CHARS}")
    return text
