"""How fast this gateway synthesizes text, and deadline errors that say what to set.

A caller whose deadline is too short for its text would otherwise get its client
library's bare "Deadline Exceeded". The gateway ends such a call a little before the
caller's deadline (:func:`answer_margin_s`), so that its own DEADLINE_EXCEEDED, with
the deadline the text needs (:meth:`Pace.too_short`), arrives first.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from gateway.stages import StageError
from tts_common.errors import DeadlineExceeded

__all__ = ["Pace", "advising", "answer_margin_s", "in_time"]

_ALPHA = 0.2
"""Weight of the newest measurement in the moving average."""
_SAFETY = 1.5
"""Suggested deadlines are the measured pace times this, for slower moments."""
_MAX_MARGIN_S = 0.5


def answer_margin_s(remaining_s: float) -> float:
    """Time kept back from the caller's deadline to send our own answer in: a tenth
    of it, at most half a second."""
    return min(_MAX_MARGIN_S, 0.1 * max(remaining_s, 0.0))


@contextlib.contextmanager
def advising(too_short: Callable[[], Exception]) -> Iterator[None]:
    """Replace a stage's DEADLINE_EXCEEDED inside the block by ``too_short()``."""
    try:
        yield
    except StageError as exc:
        if exc.status != "DEADLINE_EXCEEDED":
            raise
        raise too_short() from exc


@contextlib.asynccontextmanager
async def in_time(
    seconds: float, too_short: Callable[[], Exception]
) -> AsyncIterator[None]:
    """Run the block for at most ``seconds`` (within one task: not across the
    yields of a stream); running out, or a stage's DEADLINE_EXCEEDED, raises
    ``too_short()``."""
    timeout = asyncio.timeout(seconds)
    try:
        with advising(too_short):
            async with timeout:
                yield
    except TimeoutError:
        if not timeout.expired():
            raise
        raise too_short() from None


class Pace:
    """Seconds of wall time per character of text, averaged over recent requests
    that ran the models for every sentence (cached ones would flatter it)."""

    def __init__(self) -> None:
        """Start with no measurement."""
        self._lock = threading.Lock()
        self._per_char_s: float | None = None

    @property
    def per_char_s(self) -> float | None:
        """The measured pace; None before the first measurement."""
        return self._per_char_s

    def record(self, chars: int, seconds: float) -> None:
        """Fold in one uncached request of ``chars`` characters that took
        ``seconds``."""
        if chars <= 0 or seconds <= 0:
            return
        sample = seconds / chars
        with self._lock:
            last = self._per_char_s
            self._per_char_s = (
                sample if last is None else last + _ALPHA * (sample - last)
            )

    def needed_s(self, chars: int) -> float | None:
        """A deadline that should suffice for ``chars`` characters, in seconds."""
        pace = self._per_char_s
        return None if pace is None else max(1.0, pace * chars * _SAFETY)

    def too_short(self, chars: int, given_s: float) -> DeadlineExceeded:
        """The error for a request of ``chars`` characters whose ``given_s``-second
        deadline ran out, naming a deadline that would do."""
        needed = self.needed_s(chars)
        if needed is None:
            advice = "set a longer deadline"
        else:
            advice = (
                f"this server needs about {self._per_char_s:.3f} s per character, so "
                f"set a deadline of at least {needed:.0f} s"
            )
        return DeadlineExceeded(
            f"the deadline ({given_s:.1f} s) was too short for {chars} characters: "
            f"{advice}, or use StreamSynthesize to receive audio as it is made"
        )
