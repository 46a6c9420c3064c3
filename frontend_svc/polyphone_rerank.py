"""A linear reranker over g2pM's readings of a polyphonic character.

g2pM's BiLSTM (:mod:`frontend_svc.polyphone`) sees only characters; the dictionary
(pypinyin's phrase table) sees only words. This model scores each reading of the
character with a log-linear model whose features are the BiLSTM's probability, whether
pypinyin's reading of the jieba word agrees, and sparse context features (neighbouring
characters, the word, the neighbouring words), each conjoined with the character and
the reading. The weights are learned by ``training/polyphone.py`` from CPP data and
committed as ``polyphone_rerank.json.gz``; inference is plain dictionary look-ups.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MODEL_PATH = Path(__file__).with_name("polyphone_rerank.json.gz")
"""The committed weights (reproduced by ``python -m training.polyphone``)."""

_PAD = "#"
_MAX_PHRASE = 4


@dataclass(frozen=True)
class Context:
    """What the reranker knows about one polyphonic character of a sentence."""

    sentence: str
    index: int
    """Index of the character in ``sentence``."""
    words: Sequence[str]
    """The sentence's jieba words (joining to ``sentence`` around the character)."""
    word_index: int
    """Which of ``words`` holds the character."""
    offset: int
    """The character's position inside its word."""
    dictionary: str
    """pypinyin's reading of the character in its word."""
    in_phrases: bool
    """Whether the word is a multi-character entry of pypinyin's phrase table."""
    probs: Sequence[tuple[str, float]]
    """g2pM's readings of the character with their probabilities."""
    votes: Mapping[str, int] = field(default_factory=dict)
    """Readings given by pypinyin phrases of the sentence that cover the character
    (any segmentation), each with the length of its longest such phrase."""


def phrase_votes(
    sentence: str, index: int, phrases: Mapping[str, list[list[str]]], tone3: object
) -> dict[str, int]:
    """:attr:`Context.votes`: look up every 2..4-character window around ``index``."""
    votes: dict[str, int] = {}
    convert = tone3  # pypinyin.contrib.tone_convert.to_tone3
    for size in range(2, _MAX_PHRASE + 1):
        for start in range(max(0, index - size + 1), index + 1):
            if start + size > len(sentence):
                break
            entry = phrases.get(sentence[start : start + size])
            if entry is None:
                continue
            raw = entry[index - start][0]
            reading = convert(raw, neutral_tone_with_five=True).replace("ü", "v")  # type: ignore[operator]
            votes[reading] = max(votes.get(reading, 0), size)
    return votes


def context_features(ctx: Context) -> list[str]:
    """Reading-independent sparse features (conjoined with char and reading later)."""
    s, i = ctx.sentence, ctx.index

    def at(j: int) -> str:
        return s[j] if 0 <= j < len(s) else _PAD

    word = ctx.words[ctx.word_index]
    prev_w = ctx.words[ctx.word_index - 1] if ctx.word_index > 0 else _PAD
    next_w = (
        ctx.words[ctx.word_index + 1] if ctx.word_index + 1 < len(ctx.words) else _PAD
    )
    return [
        "L1=" + at(i - 1),
        "R1=" + at(i + 1),
        "L2=" + at(i - 2) + at(i - 1),
        "R2=" + at(i + 1) + at(i + 2),
        "LR=" + at(i - 1) + at(i + 1),
        "L2x=" + at(i - 2),
        "R2x=" + at(i + 2),
        "W=" + word,
        f"WP={len(word)}.{ctx.offset}",
        "Wm=" + prev_w,
        "Wp=" + next_w,
    ]


def reading_features(ctx: Context, reading: str, prob: float) -> dict[str, float]:
    """Every feature of one candidate ``reading``, with its value."""
    ch = ctx.sentence[ctx.index]
    log_p = math.log(max(prob, 1e-6))
    top = max(ctx.probs, key=lambda rp: rp[1])[0]
    agree = reading == ctx.dictionary
    feats: dict[str, float] = {
        "lp": log_p,
        ch + "|lp": log_p,
        "top": float(reading == top),
        "dict": float(agree),
        "phr": float(agree and ctx.in_phrases),
        ch + "|dict": float(agree),
        ch + "|phr": float(agree and ctx.in_phrases),
        ch + "|" + reading: 1.0,
    }
    vote = ctx.votes.get(reading, 0)
    if vote:
        feats[f"v{vote}"] = 1.0
        feats["v_only" if len(ctx.votes) == 1 else "v_split"] = 1.0
        feats[ch + "|v"] = 1.0
    if SPARSE:
        for f in context_features(ctx):
            feats[ch + "|" + reading + "|" + f] = 1.0
    return feats


SPARSE = False
"""Whether the context n-gram features are used (cross-validation: they overfit)."""


class Reranker:
    """Loads the committed weights; :meth:`choose` picks a reading."""

    def __init__(self, weights: dict[str, float]) -> None:
        self._w = weights

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Reranker:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        return cls(data["weights"])

    def scores(self, ctx: Context) -> list[tuple[str, float]]:
        """Each of g2pM's readings with its linear score."""
        w = self._w
        out = []
        for reading, prob in ctx.probs:
            feats = reading_features(ctx, reading, prob)
            out.append((reading, sum(w.get(k, 0.0) * v for k, v in feats.items())))
        return out

    def choose(self, ctx: Context) -> str:
        """The best-scoring reading."""
        return max(self.scores(ctx), key=lambda rs: rs[1])[0]
