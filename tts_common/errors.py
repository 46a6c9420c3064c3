"""Domain exceptions shared by every stage, each carrying the gRPC status it maps to.

Model code and adapters raise these; the servers' status interceptor turns them into
``context.abort(code, message)``. The code is kept as a status *name* so that this
module (and the model code importing it) needs no gRPC import.
"""

from __future__ import annotations

__all__ = [
    "NOTHING_TO_SPEAK",
    "RETRY_AFTER_MS_HEADER",
    "DeadlineExceeded",
    "InvalidInput",
    "ModelLoadError",
    "NotReady",
    "Overloaded",
    "TtsError",
    "VoiceNotFound",
]


RETRY_AFTER_MS_HEADER = "retry-after-ms"
"""Trailing metadata of a refused call: milliseconds until a retry may pass."""
NOTHING_TO_SPEAK = "text has nothing to speak"
"""How every INVALID_ARGUMENT for text without a single spoken word begins (the
frontend's and the gateway's): the text-in stream skips such a piece instead of
ending, and the status code alone cannot tell it from other bad input."""


class TtsError(Exception):
    """Base of all domain errors; ``status`` names the gRPC status code.

    ``trailing_metadata`` holds extra ``(key, value)`` pairs the status interceptor
    sends with the status (e.g. ``retry-after-ms``); empty for most errors.
    """

    status = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.trailing_metadata: tuple[tuple[str, str], ...] = ()


class InvalidInput(TtsError, ValueError):
    """The request itself is wrong (empty text, unknown phone, bad mel shape...)."""

    status = "INVALID_ARGUMENT"


class VoiceNotFound(TtsError, LookupError):
    """The named voice does not exist in the model directory."""

    status = "NOT_FOUND"


class NotReady(TtsError):
    """The stage cannot serve now (loading, draining, downstream unreachable)."""

    status = "UNAVAILABLE"


class Overloaded(TtsError):
    """The bounded inference queue is full (or too long for the caller's deadline);
    the caller should back off and retry, after ``retry_after_ms`` when given."""

    status = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms
        if retry_after_ms is not None:
            self.trailing_metadata = ((RETRY_AFTER_MS_HEADER, str(retry_after_ms)),)


class DeadlineExceeded(TtsError):
    """The caller's deadline passed (or will before the work can finish); the message
    says what deadline the work needs."""

    status = "DEADLINE_EXCEEDED"


class ModelLoadError(TtsError):
    """A model directory or checkpoint cannot be used; the message names the file."""

    status = "FAILED_PRECONDITION"
