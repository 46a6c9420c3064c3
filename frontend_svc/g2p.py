"""Word segmentation and grapheme-to-pinyin with polyphone disambiguation.

Sources: jieba segments, pypinyin gives the dictionary reading (its phrase table carries
lexical neutral tones such as 我们 wo3 men5), and :mod:`frontend_svc.polyphone` (g2pM's
model) proposes readings for polyphonic characters and
:mod:`frontend_svc.polyphone_rerank` picks one, weighing the model's probability against
pypinyin's word and phrase readings. (``PHRASE_OVERRIDE_BELOW`` is the older fixed rule,
still used for a character the reranker cannot score.) Lexicons (deployment file, then the request's
own) overrule everything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

from frontend_svc.lexicon import Lexicon
from frontend_svc.polyphone import Guess, PolyphoneModel
from frontend_svc.polyphone_rerank import Context, Reranker, phrase_votes
from frontend_svc.words import HAN_CLASS, Word
from tts_common.errors import InvalidInput

_LOGGER = logging.getLogger(__name__)

PHRASE_OVERRIDE_BELOW = 0.99
"""Model probability under which a multi-character dictionary phrase wins."""

_FALLBACK = "e5"
"""Reading for a Chinese character that no dictionary knows (very rare CJK-A chars)."""

# 儿 after these stays a full syllable (儿 is a morpheme "child", not the erhua suffix).
_NOT_ERHUA = frozenset(
    [
        "女儿",
        "婴儿",
        "孤儿",
        "幼儿",
        "男儿",
        "健儿",
        "胎儿",
        "宠儿",
        "少儿",
        "托儿",
        "患儿",
        "乳儿",
        "育儿",
        "儿儿",
        "混血儿",
        "新生儿",
        "弃儿",
        "犬儿",
        "孙儿",
        "侄儿",
        "孝儿",
        "妻儿",
        "小儿",
        "病儿",
        "产儿",
        "囝儿",
    ]
)
_SPLIT_RE = re.compile(f"([{HAN_CLASS}]+|[A-Za-z]+|\\s+)")
# Clauses for the model: up to a sentence mark, at most 120 characters.
_CHUNK_RE = re.compile(r"[^。！？；!?;\n]{1,120}[。！？；!?;\n]?|[。！？；!?;\n]")
_BATCH = 64
"""Clauses per padded LSTM batch."""
_TONE3_RE = re.compile(r"^[a-z]+[1-5]$")


def _unknown_chars(chars: str) -> list[str]:
    """pypinyin's ``errors`` callback: one fallback reading per character."""
    return [_FALLBACK] * len(chars)


class G2P:
    """Segmenter + pinyin converter; build once, call from one thread at a time."""

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        import jieba
        from pypinyin import Style, lazy_pinyin
        from pypinyin.constants import PHRASES_DICT
        from pypinyin.contrib.tone_convert import to_tone3

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._lazy_pinyin = lazy_pinyin
        self._style = Style.TONE3
        self._phrases = PHRASES_DICT
        self._model = PolyphoneModel()
        self._reranker = Reranker.load()
        self._to_tone3 = to_tone3
        self._lexicon = lexicon or Lexicon({})
        for word in self._lexicon.words():
            self._jieba.add_word(word, freq=100000)
        self._cache: dict[str, list[str]] = {}

    def is_word(self, text: str) -> bool:
        """Whether ``text`` is in the segmenter's dictionary."""
        return bool(self._jieba.FREQ.get(text))

    def dictionary_reading(self, word: str) -> list[str]:
        """pypinyin's reading of a Chinese-only word, one tone-number syllable a char."""
        cached = self._cache.get(word)
        if cached is None:
            raw = self._lazy_pinyin(
                word,
                style=self._style,
                neutral_tone_with_five=True,
                # pypinyin's stub says the callback returns str, but a list (one
                # reading per character) is documented and handled at run time.
                errors=_unknown_chars,  # type: ignore[arg-type]
            )
            cached = [p if _TONE3_RE.match(p) else _FALLBACK for p in raw]
            if len(cached) != len(word):
                cached = [self.dictionary_reading(ch)[0] for ch in word]
            if len(self._cache) < 200_000:
                self._cache[word] = cached
        return list(cached)

    def segment(self, text: str) -> list[Word]:
        """Split ``text`` into han words (jieba), latin runs, spaces and punctuation."""
        words: list[Word] = []
        for piece in _SPLIT_RE.split(text):
            if not piece:
                continue
            if piece.isspace():
                words.append(Word(piece, "space"))
            elif piece[0].isascii() and piece[0].isalpha():
                words.append(Word(piece, "latin"))
            elif "\u3400" <= piece[0] <= "\u9fff":
                words.extend(Word(w, "han") for w in self._jieba.cut(piece, HMM=True))
            else:
                words.extend(Word(ch, "punct") for ch in piece)
        return words

    def annotate(
        self,
        text: str,
        lexicon: Mapping[str, str] | None = None,
        segments: list[str] | None = None,
    ) -> list[Word]:
        """Segment ``text`` and give every han word its lexical (pre-sandhi) syllables.

        ``segments`` (Chinese-only words that join to ``text``) replaces jieba's
        segmentation; the sandhi benchmark uses it to test rules, not the segmenter.
        """
        request_lex = Lexicon.from_mapping(lexicon) if lexicon else None
        words = [Word(s, "han") for s in segments] if segments else self.segment(text)
        guesses = self._predict_chunked(text)
        forced = self._lexicon.match(text)
        if request_lex is not None:
            forced.update(request_lex.match(text))
        pos = 0
        prev: Word | None = None
        texts = [w.text for w in words]
        for n, word in enumerate(words):
            if word.kind == "han":
                self._read_word(word, pos, guesses, forced, text, (texts, n))
                if word.text == "儿" and prev is not None and not word.fixed:
                    _mark_free_erhua(prev, word)
            pos += len(word.text)
            prev = word if word.kind == "han" else None
        return words

    def _predict_chunked(self, text: str) -> dict[int, Guess]:
        """Model guesses for ``text``, run clause by clause to bound the LSTM length."""
        guesses: dict[int, Guess] = {}
        chunks = list(_CHUNK_RE.finditer(text))
        for first in range(0, len(chunks), _BATCH):
            batch = chunks[first : first + _BATCH]
            found = self._model.predict_batch([m.group() for m in batch])
            for match, per_chunk in zip(batch, found, strict=True):
                for idx, guess in per_chunk.items():
                    guesses[match.start() + idx] = guess
        return guesses

    def _read_word(
        self,
        word: Word,
        start: int,
        guesses: Mapping[int, object],
        forced: dict[int, str],
        sentence: str,
        where: tuple[list[str], int],
    ) -> None:
        """``where``: the sentence's word texts and which one ``word`` is."""
        text = word.text
        base = self.dictionary_reading(text)
        in_phrases = len(text) > 1 and text in self._phrases
        out: list[str] = []
        for k, char in enumerate(text):
            idx = start + k
            if idx in forced:
                out.append(forced[idx])
                word.fixed = True
                continue
            guess = guesses.get(idx)
            reading = base[k]
            rule = _context_rule(char, sentence, idx)
            if rule is not None:
                out.append(rule)
                continue
            if char in _CITATION:  # the phrase table stores 不/一 already changed
                reading = _CITATION[char]
            probs = getattr(guess, "probs", ())
            if len(probs) > 1:
                votes = phrase_votes(sentence, idx, self._phrases, self._to_tone3)
                reading = self._reranker.choose(
                    Context(sentence, idx, *where, k, reading, in_phrases, probs, votes)
                )
            elif guess is not None and guess.pinyin != reading:  # type: ignore[attr-defined]
                keep_phrase = in_phrases and guess.prob < PHRASE_OVERRIDE_BELOW  # type: ignore[attr-defined]
                if not keep_phrase:
                    reading = guess.pinyin  # type: ignore[attr-defined]
            out.append(reading)
        word.erhua = [self._is_erhua(text, k) for k in range(len(text))]
        word.syllables = [
            "er5" if erh else ("er2" if ch == "儿" and p in ("r5", "er5") else p)
            for ch, p, erh in zip(text, out, word.erhua, strict=True)
        ]

    @staticmethod
    def _is_erhua(word: str, k: int) -> bool:
        """儿 as a suffix: word-final, not first, not a "child" compound (女儿)."""
        if word[k] != "儿" or k == 0 or k != len(word) - 1:
            return False
        return not any(word.endswith(w) for w in _NOT_ERHUA)

    def validate_lexicon(self, lexicon: Mapping[str, str]) -> None:
        """Raise :class:`InvalidInput` for a malformed per-request lexicon."""
        try:
            Lexicon.from_mapping(lexicon)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc


# Frequent polyphones whose reading the next character settles (model errors seen on
# everyday text, not in the CPP corpus): 还钱 huan2, 还给 huan2 ...
_NEXT_CHAR_RULES = {
    "还": ("钱书债款给回清贷账原击手", "huan2"),
}
# ... or the previous one: a degree adverb before 重 makes it the adjective zhong4.
_PREV_CHAR_RULES = {
    "重": ("很太真挺更最较多好超", "zhong4"),
}
_CITATION = {"不": "bu4", "一": "yi1"}


def _context_rule(char: str, word: str, k: int) -> str | None:
    rule = _NEXT_CHAR_RULES.get(char)
    if rule and k + 1 < len(word) and word[k + 1] in rule[0]:
        return rule[1]
    rule = _PREV_CHAR_RULES.get(char)
    if rule and k > 0 and word[k - 1] in rule[0]:
        return rule[1]
    return None


def _mark_free_erhua(prev: Word, word: Word) -> None:
    """A lone 儿 word after a han word (小孩|儿) is the erhua suffix of that word."""
    if (prev.text[-1] + "儿") in _NOT_ERHUA or (prev.text + "儿") in _NOT_ERHUA:
        return
    word.erhua = [True]
    word.syllables = ["er5"]


def load_lexicon(path: str | Path | None) -> Lexicon:
    """The deployment lexicon at ``path`` (empty when ``None``)."""
    return Lexicon.from_file(Path(path)) if path else Lexicon({})
