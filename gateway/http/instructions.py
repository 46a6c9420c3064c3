"""OpenAI's free-form ``instructions`` read for an emotion the voice offers."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["emotion_from_instructions"]

_WORDS: dict[str, tuple[str, ...]] = {
    "neutral": ("neutral", "neutrally", "flat", "flatly", "plain", "plainly",
                "monotone", "unemotional", "中性", "平淡", "平常"),
    "happy": ("happy", "happily", "happiness", "cheerful", "cheerfully", "joyful",
              "joyfully", "joyous", "glad", "gladly", "upbeat", "merry", "开心",
              "高兴", "快乐", "愉快", "欢快", "喜悦"),
    "sad": ("sad", "sadly", "sadness", "sorrow", "sorrowful", "melancholy",
            "melancholic", "gloomy", "mournful", "unhappy", "somber", "sombre",
            "tearful", "悲伤", "伤心", "难过", "忧伤", "哀伤"),
    "angry": ("angry", "angrily", "anger", "furious", "furiously", "mad", "irate",
              "enraged", "rage", "生气", "愤怒", "恼火", "发火"),
    "surprise": ("surprise", "surprised", "astonished", "amazed", "amazement",
                 "shocked", "startled", "惊讶", "吃惊", "惊奇", "震惊"),
    "fear": ("fear", "fearful", "fearfully", "afraid", "scared", "frightened",
             "terrified", "害怕", "恐惧", "惊恐"),
    "disgust": ("disgust", "disgusted", "disgusting", "revolted", "厌恶", "恶心",
                "嫌弃"),
    "calm": ("calm", "calmly", "peaceful", "tranquil", "composed", "soothing",
             "平静", "冷静", "镇定"),
    "gentle": ("gentle", "gently", "tender", "tenderly", "soft", "softly", "warm",
               "warmly", "温柔", "柔和", "温和"),
    "relax": ("relax", "relaxed", "relaxing", "easygoing", "放松", "轻松"),
    "lyrical": ("lyrical", "lyric", "poetic", "poetically", "抒情"),
    "serious": ("serious", "seriously", "solemn", "solemnly", "stern", "sternly",
                "严肃", "庄重"),
    "disgruntled": ("disgruntled", "grumpy", "displeased", "dissatisfied", "不满"),
    "satisfied": ("satisfied", "满意", "满足"),
    "disappointed": ("disappointed", "disappointment", "失望"),
    "excited": ("excited", "excitedly", "excitement", "enthusiastic",
                "enthusiastically", "energetic", "thrilled", "兴奋", "激动"),
    "anxiety": ("anxious", "anxiously", "anxiety", "nervous", "nervously", "worried",
                "uneasy", "tense", "焦虑", "紧张", "不安"),
    "jealousy": ("jealous", "jealously", "jealousy", "envious", "嫉妒", "妒忌"),
    "hate": ("hate", "hateful", "hatred", "hostile", "憎恨", "仇恨"),
    "pity": ("pity", "pitying", "sympathetic", "compassionate", "怜悯", "同情"),
    "pleasure": ("pleasure", "pleasant", "pleasantly", "delighted", "delightful",
                 "愉悦"),
}  # fmt: skip
"""Words (English forms, Chinese words) that name each emotion id; the id itself
counts too."""
_ENGLISH = {
    word: emotion
    for emotion, words in _WORDS.items()
    for word in (emotion, *words)
    if word.isascii()
}
_CHINESE = sorted(
    ((w, e) for e, words in _WORDS.items() for w in words if not w.isascii()),
    key=lambda pair: -len(pair[0]),
)
_NEGATIONS = frozenset((
    "not", "no", "never", "don't", "dont", "doesn't", "isn't", "aren't", "without",
    "avoid", "nor", "neither", "none", "less", "stop",
))  # fmt: skip
_ZH_NEGATIONS = "不别没勿莫"
_CLAUSES = re.compile(r"[^,.;:!?()\"，。；：！？、（）\n]+")
_TOKENS = re.compile(r"[a-z]+(?:'[a-z]+)?")


def emotion_from_instructions(text: str, offered: Sequence[str]) -> str | None:
    """The first emotion ``text`` names that is in ``offered``, or None.

    An English word counts unless one of the two words before it in its clause is
    a negation ("not", "don't", ...: "don't sound sad" names none); a Chinese word
    unless a negation character stands right before it ("不开心" is not happy).
    """
    found: list[tuple[int, str]] = []
    lower = text.lower()
    for clause in _CLAUSES.finditer(lower):
        tokens = list(_TOKENS.finditer(clause.group()))
        for i, token in enumerate(tokens):
            emotion = _ENGLISH.get(token.group())
            before = {t.group() for t in tokens[max(0, i - 2) : i]}
            if emotion is not None and not before & _NEGATIONS:
                found.append((clause.start() + token.start(), emotion))
    taken = [False] * len(text)
    for word, emotion in _CHINESE:  # longest first: 不满 before 满 words
        start = lower.find(word)
        while start >= 0:
            end = start + len(word)
            negated = start > 0 and lower[start - 1] in _ZH_NEGATIONS
            if not any(taken[start:end]) and not negated:
                found.append((start, emotion))
            taken[start:end] = [True] * len(word)
            start = lower.find(word, end)
    for _, emotion in sorted(found):
        if emotion in offered:
            return emotion
    return None
