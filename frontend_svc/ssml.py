"""A small SSML subset on top of :meth:`Frontend.analyze`.

Elements: ``<speak>``, ``<break time|strength>``, ``<prosody rate volume>``,
``<phoneme alphabet="py" ph>``, ``<say-as interpret-as="characters|digits|cardinal|
telephone|date">``, ``<sub alias>`` and ``<emotion name>`` (emotion names as in
KAN-TTS, e.g. ``happy``). Each element's text becomes its own sentence(s): a sentence
never spans an element boundary, so prosody, emotion and breaks attach cleanly.
Malformed or unsupported markup raises :class:`InvalidInput` with its position.
A document type declaration is refused outright: its entities could make a few
hundred characters expand to hundreds of thousands (and SSML needs none).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from frontend_svc.budget import Budget
from frontend_svc.normalizer.numbers import read_digits, read_number
from frontend_svc.sentence import Sentence, check_voice
from tts_common.errors import InvalidInput

_RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25,
          "x-fast": 1.5}  # fmt: skip
_VOLUMES = {"silent": 0.0, "x-soft": 0.25, "soft": 0.5, "medium": 1.0, "default": 1.0,
            "loud": 1.5, "x-loud": 2.0}  # fmt: skip
_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 250, "medium": 500, "strong": 750,
                "x-strong": 1000}  # fmt: skip
_MAX_VOLUME = 4.0
"""Cap on the SSML volume factor (+12 dB, the top of the request's gain range)."""
_TIME_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")
MAX_BREAK_MS = 10_000
_ELEMENTS = frozenset(
    {"speak", "break", "prosody", "phoneme", "say-as", "sub", "emotion"}
)


@dataclass(frozen=True)
class _State:
    rate: float = 1.0
    volume: float = 1.0
    emotion: str | None = None


class PlainAnalyzer(Protocol):
    """What SSML needs of the frontend (:class:`frontend_svc.frontend.Frontend`)."""

    def normalize(self, text: str) -> str:
        """Written text -> spoken text."""
        ...

    def analyze_plain(
        self,
        normalized: str,
        emotion: str | None,
        speaker: str | None,
        lexicon: Mapping[str, str] | None = None,
        budget: Budget | None = None,
    ) -> list[Sentence]:
        """Sentences for already-normalized text, charged to ``budget``."""
        ...

    def validate_lexicon(self, lexicon: Mapping[str, str]) -> None:
        """Raise InvalidInput for a malformed lexicon."""
        ...


def analyze_ssml(
    fe: PlainAnalyzer,
    ssml: str,
    emotion: str | None,
    speaker: str | None,
    lexicon: Mapping[str, str] | None,
    budget: Budget | None = None,
) -> list[Sentence]:
    """Sentences for an SSML document (see the module docstring for the subset).

    Raises:
        InvalidInput: Malformed or unsupported markup, a DOCTYPE, or text that
            expands past ``budget``.
    """
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(ssml)
        root = parser.close()
    except ET.ParseError as exc:
        line, col = exc.position
        raise InvalidInput(
            f"malformed SSML at line {line}, column {col + 1}: {exc.msg}"
        ) from None
    if _local(root.tag) != "speak":
        raise InvalidInput("SSML root element must be <speak>")
    walker = _Walker(fe, speaker, lexicon, budget)
    walker.element(root, _State(emotion=emotion))
    return walker.out


class _NoDoctype(ET.TreeBuilder):
    """A tree builder that stops the parse at a document type declaration, before
    any entity it declares can be expanded."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise InvalidInput(
            "SSML must not contain a <!DOCTYPE> (entity declarations are refused); "
            "write the text out"
        )


class _Walker:
    def __init__(
        self,
        fe: PlainAnalyzer,
        speaker: str | None,
        lexicon: Mapping[str, str] | None,
        budget: Budget | None,
    ) -> None:
        self.fe, self.speaker, self.lexicon = fe, speaker, dict(lexicon or {})
        self.budget = budget
        self.out: list[Sentence] = []

    def text(self, text: str | None, state: _State, normalized: bool = False) -> None:
        if not text or not text.strip():
            return
        if self.budget is not None:
            self.budget.check()
        spoken = text if normalized else self.fe.normalize(text)
        for sent in self.fe.analyze_plain(
            spoken, state.emotion, self.speaker, self.lexicon, self.budget
        ):
            sent.rate, sent.volume = state.rate, state.volume
            self.out.append(sent)

    def element(self, el: ET.Element, state: _State) -> None:
        tag = _local(el.tag)
        if tag not in _ELEMENTS:
            raise InvalidInput(f"unsupported SSML element <{tag[:40]}>")
        handler = getattr(self, "_" + tag.replace("-", "_"))
        handler(el, state)
        self.text(el.tail, state)

    def _children(self, el: ET.Element, state: _State) -> None:
        self.text(el.text, state)
        for child in el:
            self.element(child, state)

    _speak = _children

    def _prosody(self, el: ET.Element, state: _State) -> None:
        rate = _factor(el.get("rate"), _RATES, "rate", state.rate)
        if not rate > 0:  # 0 on the wire means "not set": it would become 1.0
            raise InvalidInput(
                f"prosody rate={el.get('rate', '')[:20]!r} is not a positive rate; "
                'use a rate above 0, e.g. "slow", "80%" or "0.8"'
            )
        volume = _factor(el.get("volume"), _VOLUMES, "volume", state.volume)
        volume = min(max(volume, 0.0), _MAX_VOLUME)
        self._children(el, replace(state, rate=rate, volume=volume))

    def _emotion(self, el: ET.Element, state: _State) -> None:
        name = el.get("name") or el.get("category") or ""
        check_voice(name, None)
        self._children(el, replace(state, emotion=name))

    def _break(self, el: ET.Element, state: _State) -> None:
        ms = _break_ms(el)
        if self.out:
            self.out[-1].pause_after_ms = 0  # an explicit break replaces it
            self.out[-1].break_after_ms = min(
                self.out[-1].break_after_ms + ms, MAX_BREAK_MS
            )

    def _sub(self, el: ET.Element, state: _State) -> None:
        self.text(el.get("alias", el.text), state)

    def _phoneme(self, el: ET.Element, state: _State) -> None:
        if el.get("alphabet", "py") not in ("py", "pinyin"):
            raise InvalidInput('<phoneme> supports alphabet="py" only')
        word = (el.text or "").strip()
        saved = dict(self.lexicon)
        self.lexicon[word] = el.get("ph", "")
        self.fe.validate_lexicon({word: self.lexicon[word]})
        self.text(word, state, normalized=True)
        self.lexicon = saved

    def _say_as(self, el: ET.Element, state: _State) -> None:
        kind, raw = el.get("interpret-as", ""), (el.text or "").strip()
        if kind == "characters":
            spoken = " ".join(read_digits(c) if c.isdigit() else c for c in raw)
        elif kind == "digits":
            spoken = read_digits(raw)
        elif kind == "telephone":
            spoken = read_digits(raw, yao=True)
        elif kind == "cardinal":
            spoken = read_number(raw.replace(",", "")) if raw else ""
        elif kind == "date":
            spoken = self.fe.normalize(raw)
        else:
            raise InvalidInput(f"unsupported say-as interpret-as={kind!r}")
        self.text(spoken, state, normalized=True)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _factor(
    value: str | None, names: dict[str, float], what: str, base: float
) -> float:
    """The multiplier ``value`` gives relative to ``base`` (names, %, dB or a number).

    Not clamped: a rate the stages cannot speak is refused by the gateway with the
    combined value in the message (one rule for every source of speed), and the
    volume is capped where it is applied.
    """
    if value is None:
        return base
    value = value.strip()
    if value in names:
        return names[value]
    try:
        if value.endswith("%"):
            factor = base * float(value[:-1]) / 100.0
        elif value.endswith("dB"):
            factor = base * 10 ** (float(value[:-2]) / 20.0)
        else:
            factor = base * float(value)
    except (ValueError, OverflowError):
        raise InvalidInput(f"bad prosody {what}={value[:20]!r}") from None
    if not math.isfinite(factor):
        raise InvalidInput(f"prosody {what}={value[:20]!r} is not a finite number")
    return factor


def _break_ms(el: ET.Element) -> int:
    time_attr = el.get("time")
    if time_attr is None:
        strength = el.get("strength", "medium")
        if strength not in _STRENGTH_MS:
            raise InvalidInput(f"bad break strength={strength[:20]!r}")
        return _STRENGTH_MS[strength]
    match = _TIME_RE.match(time_attr)
    if not match:
        raise InvalidInput(f"bad break time={time_attr[:20]!r}; use e.g. 500ms or 1s")
    scale = 1 if match[2] == "ms" else 1000
    return min(int(float(match[1]) * scale), MAX_BREAK_MS)
