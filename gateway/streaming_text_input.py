"""Reading a ``StreamingSynthesize`` call: its messages in, closed segments queued."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import Any

from gateway.text_stream import Segment, TextAccumulator
from gateway.validation import parsed
from tts_common.errors import InvalidInput

__all__ = ["SegmentInbox", "read_requests"]


class SegmentInbox:
    """Closed segments on their way from the reader task to the call's task."""

    def __init__(self) -> None:
        self.segments: deque[Segment] = deque()
        self.ended = False
        """The client ended its request stream (all its text is in)."""
        self.error: Exception | None = None
        """What stopped the reader: a bad message, or the transport."""
        self.chars = 0
        """Characters of text received so far."""
        self.first_closed_at: float | None = None
        """``time.perf_counter()`` when the first segment closed."""
        self._changed = asyncio.Event()

    def put(self, segments: Iterable[Segment | None]) -> None:
        for segment in segments:
            if segment is not None:
                if self.first_closed_at is None:
                    self.first_closed_at = time.perf_counter()
                self.segments.append(segment)
        self._changed.set()

    def end(self) -> None:
        self.ended = True
        self._changed.set()

    def fail(self, exc: Exception) -> None:
        self.error = exc
        self._changed.set()

    def check(self) -> None:
        """Raise what stopped the reader, if anything did."""
        if self.error is not None:
            raise self.error

    @property
    def drained(self) -> bool:
        """Nothing more will come: the input ended and every segment was taken."""
        return self.ended and not self.segments

    async def take(self) -> list[Segment] | None:
        """Every segment waiting (at least one, waiting for it); None at the end.

        Raises:
            Exception: What stopped the reader.
        """
        while True:
            self.check()
            if self.segments:
                taken = list(self.segments)
                self.segments.clear()
                return taken
            if self.ended:
                return None
            self._changed.clear()
            await self._changed.wait()


async def read_requests(
    requests: AsyncIterator[Any], inbox: SegmentInbox, limit: int
) -> None:
    """Feed the client's messages to the accumulator until its stream ends; a bad
    message (or a failed read) stops the call through ``inbox``."""
    accumulator = TextAccumulator()
    try:
        async for raw in requests:
            message = parsed(raw)
            kind = message.WhichOneof("content")
            if kind == "text":
                inbox.chars += len(message.text)
                if inbox.chars > limit:
                    raise InvalidInput(
                        f"the stream's text has passed {limit} characters, the limit "
                        "of one request; end this stream and continue in a new one"
                    )
                inbox.put(accumulator.feed(message.text))
            elif kind == "flush":
                if message.flush:
                    inbox.put([accumulator.flush()])
            elif kind == "config":
                raise InvalidInput(
                    "config may only be the first message of the stream; send text "
                    "pieces and flushes after it"
                )
            else:
                raise InvalidInput(
                    "a message after the config must set text or flush (it set none)"
                )
        inbox.put([accumulator.end()])
        inbox.end()
    except Exception as exc:  # the call's task raises it
        inbox.fail(exc)
