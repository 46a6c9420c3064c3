"""A small SSML subset on top of :meth:`Frontend.analyze`.

Elements: ``<speak>``, ``<p>``, ``<s>``, ``<break time|strength>``, ``<prosody rate
volume pitch>``, ``<emphasis level>``, ``<mark name>``, ``<phoneme alphabet="py" ph>``,
``<say-as interpret-as="characters|digits|cardinal|telephone|date">``, ``<sub alias>``
and ``<emotion name>`` (emotion names as in KAN-TTS, e.g. ``happy``). Every element
but ``<mark>`` closes the sentence before it and its own last one: a sentence never
spans such a boundary, so prosody, emphasis, emotion and breaks attach cleanly.
``<p>`` and ``<s>`` end with a sentence pause. A ``<mark>`` does not split the
sentence: it is recorded at the symbol it stands before (:mod:`frontend_svc.spans`);
one that no word follows in its stretch of text moves to the start of the next
sentence, or to the end of the last. Values are parsed in
:mod:`frontend_svc.ssml_values`. Malformed or unsupported markup raises
:class:`InvalidInput` with its position. A document type declaration is refused
outright: its entities could make a few hundred characters expand to hundreds of
thousands (and SSML needs none).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from frontend_svc import ssml_values as values
from frontend_svc.budget import Budget
from frontend_svc.normalizer.numbers import read_digits, read_number
from frontend_svc.sentence import Mark, Sentence, check_voice
from tts_common.errors import InvalidInput
from tts_common.pauses import SENTENCE_PAUSE_MS

_MAX_VOLUME = 4.0
"""Cap on the SSML volume factor (+12 dB, the top of the request's gain range)."""
_MAX_MARK_NAME = 128
_ELEMENTS = ("speak", "p", "s", "break", "prosody", "emphasis", "mark", "phoneme",
             "say-as", "sub", "emotion")  # fmt: skip


@dataclass(frozen=True)
class _State:
    rate: float = 1.0
    volume: float = 1.0
    emotion: str | None = None
    pitch: float = 0.0
    emphasis: str | None = None
    """Level of the innermost ``<emphasis>``; None outside any."""


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
        marks: Sequence[tuple[str, int]] = (),
    ) -> list[Sentence]:
        """Sentences for already-normalized text, charged to ``budget``, with
        ``marks`` (name, offset in ``normalized``) placed on them."""
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
    walker.finish()
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
    """Walks the tree, gathering text up to the next element boundary (a
    ``<mark>`` is none) and analyzing it as one stretch."""

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
        self._parts: list[str] = []  # normalized text of the stretch so far
        self._marks: list[tuple[str, int]] = []  # (name, offset in the stretch)
        self._state = _State()
        self._carry: list[str] = []  # marks that no word followed yet
        self._broken_at = -1  # len(out) when a <break> last replaced a pause

    def text(self, text: str | None, state: _State, normalized: bool = False) -> None:
        if not text or not text.strip():
            return
        if self.budget is not None:
            self.budget.check()
        self._parts.append(text if normalized else self.fe.normalize(text))
        self._state = state  # the same for the whole stretch: only marks are inside

    def flush(self) -> None:
        """Analyze the stretch gathered so far into sentences."""
        spoken, marks, state = "".join(self._parts), self._marks, self._state
        self._parts, self._marks = [], []
        if not spoken.strip():
            self._carry.extend(name for name, _ in marks)
            return
        sentences = self.fe.analyze_plain(
            spoken, state.emotion, self.speaker, self.lexicon, self.budget, marks
        )
        if not sentences:
            self._carry.extend(name for name, _ in marks)
            return
        last = sentences[-1]
        end = len(last.symbols.split())
        trailing = [m.name for m in last.marks if m.symbol_index == end]
        last.marks = [m for m in last.marks if m.symbol_index < end]
        sentences[0].marks[:0] = [Mark(name, 0) for name in self._carry]
        self._carry = trailing
        emphasis = values.EMPHASIS[state.emphasis or "none"]
        for sent in sentences:
            sent.rate, sent.volume = state.rate * emphasis.rate, state.volume
            sent.pitch_semitones, sent.energy_shift = state.pitch, emphasis.energy_shift
        self.out.extend(sentences)

    def finish(self) -> None:
        """Close the document: marks that no word followed end the last sentence."""
        self.flush()
        if self.out and self._carry:
            last = self.out[-1]
            end = len(last.symbols.split())
            last.marks.extend(Mark(name, end) for name in self._carry)
            self._carry = []

    def element(self, el: ET.Element, state: _State) -> None:
        tag = _local(el.tag)
        if tag not in _ELEMENTS:
            raise InvalidInput(
                f"unsupported SSML element <{tag[:40]}>; use {', '.join(_ELEMENTS)}"
            )
        if tag == "mark":
            self._mark(el)
        else:
            self.flush()
            getattr(self, "_" + tag.replace("-", "_"))(el, state)
            self.flush()
        self.text(el.tail, state)

    def _children(self, el: ET.Element, state: _State) -> None:
        self.text(el.text, state)
        for child in el:
            self.element(child, state)

    _speak = _children

    def _p(self, el: ET.Element, state: _State) -> None:
        """``<p>`` and ``<s>``: their text ends with a sentence pause (unless a
        ``<break>`` at their end replaced it)."""
        before = len(self.out)
        self._children(el, state)
        self.flush()
        if len(self.out) > before and self._broken_at != len(self.out):
            last = self.out[-1]
            last.pause_after_ms = max(last.pause_after_ms, SENTENCE_PAUSE_MS)

    _s = _p

    def _mark(self, el: ET.Element) -> None:
        name = el.get("name", "")
        if not name.strip() or len(name) > _MAX_MARK_NAME:
            raise InvalidInput(
                f'<mark> needs a name of 1 to {_MAX_MARK_NAME} characters: <mark name="x"/>'
            )
        if len(el) or (el.text and el.text.strip()):
            raise InvalidInput(
                f'<mark name="{name[:40]}"> must be empty: write <mark name="x"/>'
            )
        self._marks.append((name, sum(len(p) for p in self._parts)))

    def _prosody(self, el: ET.Element, state: _State) -> None:
        rate = values.factor(el.get("rate"), values.RATES, "rate", state.rate)
        if not rate > 0:  # 0 on the wire means "not set": it would become 1.0
            raise InvalidInput(
                f"prosody rate={el.get('rate', '')[:20]!r} is not a positive rate; "
                'use a rate above 0, e.g. "slow", "80%" or "0.8"'
            )
        volume = values.factor(el.get("volume"), values.VOLUMES, "volume", state.volume)
        volume = min(max(volume, 0.0), _MAX_VOLUME)
        pitch = values.pitch_semitones(el.get("pitch"), state.pitch)
        self._children(el, replace(state, rate=rate, volume=volume, pitch=pitch))

    def _emphasis(self, el: ET.Element, state: _State) -> None:
        self._children(el, replace(state, emphasis=values.emphasis(el)))

    def _emotion(self, el: ET.Element, state: _State) -> None:
        name = el.get("name") or el.get("category") or ""
        check_voice(name, None)
        self._children(el, replace(state, emotion=name))

    def _break(self, el: ET.Element, state: _State) -> None:
        ms = values.break_ms(el)
        if self.out:
            self.out[-1].pause_after_ms = 0  # an explicit break replaces it
            self.out[-1].break_after_ms = min(
                self.out[-1].break_after_ms + ms, values.MAX_BREAK_MS
            )
            self._broken_at = len(self.out)

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
        self.flush()  # while the reading is in the lexicon
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
