"""The caller's deadline, shared by every downstream call of one request."""

from __future__ import annotations

import time
from typing import Any

from gateway.stages.errors import StageError

__all__ = ["Deadline"]


class Deadline:
    """The caller's deadline as a monotonic instant, shared by every downstream call."""

    def __init__(self, seconds: float) -> None:
        """Start the clock: ``seconds`` from now."""
        self._end = time.monotonic() + seconds

    @classmethod
    def from_context(cls, context: Any, default_s: float) -> Deadline:
        """The caller's remaining time, or ``default_s`` when it set no deadline."""
        remaining = context.time_remaining()
        return cls(default_s if remaining is None else float(remaining))

    def remaining(self) -> float:
        """Seconds left; negative once passed."""
        return self._end - time.monotonic()

    def timeout(self, stage: str) -> float:
        """The ``timeout=`` for a call to ``stage`` now.

        Raises:
            StageError: DEADLINE_EXCEEDED when no time is left to call it.
        """
        left = self.remaining()
        if left <= 0:
            raise StageError(
                "DEADLINE_EXCEEDED",
                f"deadline exceeded before the {stage} stage could be called; "
                "set a longer deadline",
            )
        return left
