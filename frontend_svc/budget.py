"""What one analysis may spend: characters to speak, and time.

The servicer makes a :class:`Budget` per request and the frontend checks it between
pieces of work (each SSML text, each sentence), so an analysis stops early when the
text expands past the limit (SSML, numbers read out) or when its caller has left or
run out of time; the executor slot is then free again in a sentence's time, not
after the whole text.
"""

from __future__ import annotations

import threading
import time

from tts_common.errors import DeadlineExceeded, InvalidInput, TtsError

__all__ = ["SPOKEN_CHARS_PER_CHAR", "AnalysisStopped", "Budget"]

SPOKEN_CHARS_PER_CHAR = 2
"""The text as read out (SSML expanded, numbers and symbols spelled out) may have this
many times the service's ``max_text_chars``; ordinary text stays below (a number with
its unit, such as "1℃", doubles at most)."""


class AnalysisStopped(TtsError):
    """The caller left: nobody waits for the rest of the analysis."""

    status = "CANCELLED"


class Budget:
    """Limits of one analysis; :meth:`stop` may be called from another thread.

    Args:
        max_chars: Characters the analysis may speak in all, counted as read out
            (after SSML expansion and normalization).
        deadline: ``time.monotonic()`` instant after which the work is useless;
            None = no deadline.
    """

    def __init__(self, max_chars: int, deadline: float | None = None) -> None:
        self.max_chars = max_chars
        self._deadline = deadline
        self._spent = 0
        self._stopped = threading.Event()

    @classmethod
    def within(cls, max_chars: int, remaining_s: float | None) -> Budget:
        """A budget of ``max_chars`` ending ``remaining_s`` from now (None: never),
        e.g. from ``context.time_remaining()``."""
        end = None if remaining_s is None else time.monotonic() + remaining_s
        return cls(max_chars, end)

    def stop(self) -> None:
        """Make the next :meth:`check` raise: the caller has left."""
        self._stopped.set()

    def check(self) -> None:
        """Raise if the analysis should stop now.

        Raises:
            AnalysisStopped: :meth:`stop` was called.
            DeadlineExceeded: The deadline has passed.
        """
        if self._stopped.is_set():
            raise AnalysisStopped("analysis stopped: the caller left")
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise DeadlineExceeded(
                "deadline passed during text analysis; set a longer deadline"
            )

    def spend(self, chars: int) -> None:
        """Count ``chars`` more characters to speak, then :meth:`check`.

        Raises:
            InvalidInput: The total passed ``max_chars``.
            AnalysisStopped, DeadlineExceeded: See :meth:`check`.
        """
        self._spent += chars
        if self._spent > self.max_chars:
            raise InvalidInput(
                f"the text expands to more than {self.max_chars} characters when "
                "read out (SSML, numbers and symbols spelled out); split it into "
                "several requests"
            )
        self.check()
