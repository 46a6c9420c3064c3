"""Text that arrives in pieces, cut into segments that can be spoken now.

``StreamingSynthesize`` (and the bridge's WebSocket) take text as a writer produces
it, an LLM's reply for instance, split anywhere (mid-word, mid-number). The
:class:`TextAccumulator` decides when the text received so far holds a segment that
can be synthesized without waiting for more. Its rules (also in
``docs/architecture.md``, "Text-in streaming"):

1. **Sentence end.** A segment closes after sentence-final punctuation
   (:data:`SENTENCE_ENDS`: 。！？!?；…‥ and their other forms ｡．) together with any
   more of it and any closing quotes or brackets right after it (:data:`CLOSERS`, so
   ``。”`` stays with its sentence), once the next character has arrived and is
   neither. Until then the segment waits: the next piece may continue the run.
2. **Line break.** A line break closes at once (nothing after it belongs to the
   line before).
3. **Numbers and abbreviations.** A ``.`` or ``．`` closes only when a space, a line
   break or a character other than an ASCII letter or digit follows it, and never
   after a digit: ``3.14``, ``1. 打开`` (a list number), ``example.com``, ``U.S.A``
   do not close. A clause break between two digits does not count either
   (``1,000``, ``10:30``).
4. **Length.** Text that reaches ``clause_chars`` characters (60) with no sentence
   end closes at its last clause break (:data:`CLAUSE_BREAKS`: ，,、;：:) within the
   first ``max_chars`` characters (150), once the character after it has arrived.
   Past ``max_chars`` with no clause break it closes at its last space within them,
   else at ``max_chars`` characters (moved back to the start of a run of ASCII
   letters or digits, so a word or number is not cut).
5. **Flush and end.** A flush, or the end of the input, closes everything received.
6. **Nothing to speak.** A segment without a letter, digit or ideograph (only
   punctuation, spaces, emoji) is dropped instead of sent.

Each segment says why it closed; :attr:`Segment.pause_after_ms` is the silence the
frontend would have put between it and the text after it had they been one request
(400 ms after a sentence, 60 ms after a clause cut, none after an arbitrary cut).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from tts_common.pauses import SENTENCE_PAUSE_MS, SPLIT_PAUSE_MS

__all__ = [
    "CLAUSE_BREAKS",
    "CLOSERS",
    "PAUSE_AFTER_MS",
    "SENTENCE_ENDS",
    "Segment",
    "TextAccumulator",
    "speakable",
]

LINE_BREAKS: Final = frozenset("\n\r\u2028\u2029")
SENTENCE_ENDS: Final = frozenset("。｡．.！!？?；…‥") | LINE_BREAKS
"""Characters that end a sentence (``.`` and ``．`` only as rule 3 allows)."""
CLOSERS: Final = frozenset("”’」』）)】》〉〕］]｝}\"'")
"""Closing quotes and brackets: they stay with the punctuation before them."""
CLAUSE_BREAKS: Final = frozenset("，,、;：:")
"""Where an over-long sentence may be cut."""
_DOTS: Final = frozenset(".．")
_BETWEEN_DIGITS: Final = frozenset(".．，,：:")
"""Marks that are part of a number when digits stand on both sides of them."""

Reason = Literal["sentence", "clause", "length", "flush", "end"]

PAUSE_AFTER_MS: Final[dict[str, int]] = {
    "sentence": SENTENCE_PAUSE_MS,
    "clause": SPLIT_PAUSE_MS,
    "length": 0,
    "flush": 0,
    "end": 0,
}
"""Silence between a segment and the next, by why the segment closed: what the
frontend puts between sentences of one text (the gateway may not import it)."""

DEFAULT_CLAUSE_CHARS = 60
DEFAULT_MAX_CHARS = 150


@dataclass(frozen=True)
class Segment:
    """A piece of the text that is ready to be spoken."""

    text: str
    """The text as received (spaces and punctuation kept)."""
    reason: Reason
    """Why it closed: a ``sentence`` end (or line break), a ``clause`` break or the
    ``length`` limit (rule 4), a ``flush``, or the ``end`` of the input."""

    @property
    def pause_after_ms(self) -> int:
        """Silence to put between this segment's audio and the next segment's."""
        return PAUSE_AFTER_MS[self.reason]


def speakable(text: str) -> bool:
    """True when ``text`` has a letter, digit or ideograph (something to say)."""
    return any(ch.isalnum() for ch in text)


class TextAccumulator:
    """Collects text pieces and hands out the segments they complete, in order.

    Pure and synchronous: feed it pieces, get back the segments they closed.
    """

    def __init__(
        self,
        clause_chars: int = DEFAULT_CLAUSE_CHARS,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        """Set the length rule's limits (rule 4).

        Raises:
            ValueError: ``clause_chars`` < 1 or ``max_chars`` < ``clause_chars``.
        """
        if clause_chars < 1 or max_chars < clause_chars:
            raise ValueError("need 1 <= clause_chars <= max_chars")
        self.clause_chars, self.max_chars = clause_chars, max_chars
        self._pending = ""

    @property
    def pending(self) -> str:
        """Text received that no segment has taken yet."""
        return self._pending

    def feed(self, piece: str) -> list[Segment]:
        """Add ``piece``; the segments it completes (often none), in order."""
        self._pending += piece
        out: list[Segment] = []
        while (cut := self._next_cut()) is not None:
            end, reason = cut
            self._emit(self._pending[:end], reason, out)
            self._pending = self._pending[end:]
        return out

    def flush(self) -> Segment | None:
        """Close everything received (rule 5); None when nothing speakable was."""
        return self._close_all("flush")

    def end(self) -> Segment | None:
        """The input ended: close what is left (rule 5)."""
        return self._close_all("end")

    def _close_all(self, reason: Reason) -> Segment | None:
        text, self._pending = self._pending, ""
        out: list[Segment] = []
        self._emit(text, "sentence" if _ends_sentence(text) else reason, out)
        return out[0] if out else None

    @staticmethod
    def _emit(text: str, reason: Reason, out: list[Segment]) -> None:
        if speakable(text):  # rule 6
            out.append(Segment(text, reason))

    def _next_cut(self) -> tuple[int, Reason] | None:
        """Where the pending text may be cut now, and why; None: wait for more."""
        text = self._pending
        window = min(len(text), self.max_chars)
        found = _sentence_end(text, window)
        if found is not None:
            return (found, "sentence") if found > 0 else None  # 0: run still open
        if len(text) >= self.clause_chars:
            clause = _last_clause_break(text, window)
            if clause is not None:
                return clause, "clause"
        if len(text) > self.max_chars:
            return _hard_cut(text, self.max_chars), "length"
        return None


def _sentence_end(text: str, window: int) -> int | None:
    """The end of the first sentence (after its run of enders and closers) that
    starts in ``text[:window]``; 0 when that run reaches the end of the text (the
    next piece may continue it); None when there is none."""
    for i in range(window):
        ch = text[i]
        if ch not in SENTENCE_ENDS:
            continue
        if ch in _DOTS and i > 0 and text[i - 1].isdigit():
            continue  # 3.14, "1. " (a list number)
        j = i + 1
        while j < len(text) and (text[j] in SENTENCE_ENDS or text[j] in CLOSERS):
            j += 1
        if any(c in LINE_BREAKS for c in text[i:j]):
            return j  # rule 2: no waiting
        if j == len(text):
            return 0
        if ch in _DOTS and _is_ascii_alnum(text[j]):
            continue  # example.com, U.S.A
        return j
    return None


def _last_clause_break(text: str, window: int) -> int | None:
    """The end of the last clause break (with closers after it) that starts in
    ``text[:window]`` and whose next character has arrived, not between digits."""
    best = None
    for i in range(window):
        if text[i] not in CLAUSE_BREAKS:
            continue
        j = i + 1
        while j < len(text) and text[j] in CLOSERS:
            j += 1
        if j == len(text):
            break  # the last one: its next character has not arrived
        digits = i > 0 and text[i - 1].isdigit() and text[j].isdigit()
        if digits and text[i] in _BETWEEN_DIGITS:
            continue  # 1,000 and 10:30
        best = j
    return best


def _hard_cut(text: str, limit: int) -> int:
    """Where to cut text past ``limit`` with neither sentence end nor clause break:
    after its last space within the limit, else at the limit, moved back to the
    start of a run of ASCII letters or digits that the limit would split."""
    space = max((i for i in range(1, limit) if text[i].isspace()), default=0)
    if space:
        return space + 1
    cut = limit
    while cut > 0 and _is_ascii_alnum(text[cut - 1]) and _is_ascii_alnum(text[cut]):
        cut -= 1
    return cut or limit


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _ends_sentence(text: str) -> bool:
    """Whether ``text`` ends with sentence-final punctuation (closers and spaces
    after it allowed)."""
    core = text.rstrip()
    while core and core[-1] in CLOSERS:
        core = core[:-1]
    return bool(core) and core[-1] in SENTENCE_ENDS
