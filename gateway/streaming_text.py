"""``StreamingSynthesize``: text in as it is written, audio out as sentences close.

The first request message is a config (a ``StreamSynthesizeRequest`` with empty
``text``), checked once as ``StreamSynthesize`` checks its request. Text pieces and
flushes follow; a reader task feeds them to a
:class:`~gateway.text_stream.TextAccumulator`, whose closed segments queue up in an
:class:`_Inbox`. The call's own task takes them in order: each time it is free, every
segment waiting is joined into one text and run through the same
:meth:`Pipeline.analyze` and :meth:`Pipeline.pieces` as a ``StreamSynthesize``
request (cache, admission, failover and all), so sentences keep pipelining when the
text comes faster than speech. Sentence indexes continue across these runs, the
silence the frontend would have put between sentences is added between runs
(:attr:`Segment.pause_after_ms`), and one :class:`AudioEdge` encodes the whole call,
so the chunks' audio is one stream in the chosen encoding.

Limits are those of one request: the whole text at most the request text limit, its
audio estimate at most ``GATEWAY_MAX_AUDIO_S``, and the call's deadline (the
caller's, else ``GATEWAY_DEFAULT_DEADLINE_S``) covers everything, the time spent
waiting for text included; no other idle limit applies. A synthesis slot is held
only while a run synthesizes, never while the call waits for text.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import math
import time
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from typing import Any

import grpc
import numpy as np

from gateway.config import GatewayConfig
from gateway.metrics import GatewayMetrics
from gateway.options import SynthesisOptions
from gateway.pace import advising, answer_margin_s
from gateway.pipeline import Pipeline, SynthesisJob
from gateway.stages import Deadline
from gateway.text_stream import Segment, TextAccumulator
from gateway.timings import TimingClock
from gateway.validation import parsed, request_id_of
from gateway.voices import VoiceCatalog
from sambert_tts_protos.v1 import audio_pb2, frontend_service_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.errors import NOTHING_TO_SPEAK, DeadlineExceeded, InvalidInput
from tts_common.interceptors import REQUEST_ID_HEADER
from tts_common.logging import REQUEST_ID

__all__ = ["METHOD", "TextStreams"]

_LOGGER = logging.getLogger(__name__)
METHOD = "StreamingSynthesize"
_RAW = (audio_pb2.AUDIO_ENCODING_PCM_S16LE, audio_pb2.AUDIO_ENCODING_WAV)
_PROBE_TEXT = "。"
"""Stands in for the config's (empty) text while its other fields are checked: the
text of a stream is checked as it comes."""
_Response = gw.StreamingSynthesizeResponse
"""How :meth:`Pipeline.analyze` begins its refusal of text without sentences."""


class _Inbox:
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


class TextStreams:
    """Runs ``StreamingSynthesize`` calls; one object serves every call."""

    def __init__(
        self,
        cfg: GatewayConfig,
        pipeline: Pipeline,
        metrics: GatewayMetrics,
        catalog: Callable[[Deadline], Awaitable[VoiceCatalog]],
    ) -> None:
        """Keep the settings, the pipeline, the metrics and a way to the voices."""
        self._cfg, self._pipeline, self._metrics = cfg, pipeline, metrics
        self._catalog = catalog

    async def run(
        self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncGenerator[_Response, None]:
        """The call's responses: a header before the first audio, then chunks.

        Raises:
            InvalidInput: The config is missing, repeated or wrong; a message is
                empty; the text passes the limit or has nothing to speak.
            DeadlineExceeded: The call's deadline passed (also while waiting for
                text).
        """
        remaining = context.time_remaining()
        given = self._cfg.default_deadline_s if remaining is None else remaining
        deadline = Deadline(given - answer_margin_s(given))
        inbox = _Inbox()
        too_late = _too_late(given, inbox)
        try:
            async with asyncio.timeout(max(0.0, deadline.remaining())):
                first = await anext(requests, None)
        except TimeoutError:
            raise too_late() from None
        if first is None:
            raise InvalidInput(_NO_CONFIG + "; the stream ended before any message")
        config = parsed(first)
        if config.WhichOneof("content") != "config":
            raise InvalidInput(_NO_CONFIG)
        options, limit = await self._start(config.config, context, deadline)
        reader = asyncio.create_task(_read(requests, inbox, limit))
        run = _Run(self._cfg, self._pipeline, self._metrics, options, deadline, inbox)
        try:
            with advising(too_late):
                async with contextlib.aclosing(run.responses(too_late)) as responses:
                    async for response in responses:
                        yield response
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _start(
        self,
        config: gw.StreamSynthesizeRequest,
        context: grpc.aio.ServicerContext,
        deadline: Deadline,
    ) -> tuple[SynthesisOptions, int]:
        """Check the config into options; and the stream's text limit.

        Raises:
            InvalidInput: A field is wrong, or the config carries text or SSML.
            VoiceNotFound: Unknown voice.
        """
        request_id = request_id_of(config.request_id)
        REQUEST_ID.set(request_id)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
        if config.text:
            raise InvalidInput(
                "config.text must be empty: send the text in text messages after "
                "the config"
            )
        if config.ssml:
            raise InvalidInput(
                "ssml is not supported by StreamingSynthesize (an SSML document "
                "cannot be spoken before it is complete); send plain text, or use "
                "StreamSynthesize"
            )
        catalog = await self._catalog(deadline)
        probe = gw.StreamSynthesizeRequest()
        probe.CopyFrom(config)
        probe.text = _PROBE_TEXT
        options = SynthesisOptions.from_request(
            probe, catalog, self._cfg.max_text_chars, request_id
        )
        limit = min(self._cfg.max_text_chars, catalog.frontend_max_chars or math.inf)
        _LOGGER.info(
            "text stream: voice %s, encoding %s", options.voice.name, options.encoding
        )
        return options, int(limit)


_NO_CONFIG = (
    "the first message of StreamingSynthesize must be a config (how to speak: "
    "voice, encoding, ...; its text empty), then text pieces and flushes"
)


async def _read(requests: AsyncIterator[Any], inbox: _Inbox, limit: int) -> None:
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


def _too_late(given: float, inbox: _Inbox) -> Callable[[], Exception]:
    def error() -> Exception:
        return DeadlineExceeded(
            f"the call's deadline ({given:.1f} s) ran out, {inbox.chars} characters "
            "of text in: a text stream must end within its deadline (waiting for "
            "text included); set a longer one, or end the request stream sooner"
        )

    return error


class _Run:
    """One call's output: segments in, the header and chunks out."""

    def __init__(
        self,
        cfg: GatewayConfig,
        pipeline: Pipeline,
        metrics: GatewayMetrics,
        options: SynthesisOptions,
        deadline: Deadline,
        inbox: _Inbox,
    ) -> None:
        self._cfg, self._pipeline, self._metrics = cfg, pipeline, metrics
        self._options, self._deadline, self._inbox = options, deadline, inbox
        self._edge = options.audio_edge(streaming=True)
        self._header_sent = self._first_audio = False
        self._next_index = 0
        """Index of the next run's first sentence (indexes continue across runs)."""
        self._pause_ms = 0
        """Silence owed before the next run's audio (after the last one's text)."""
        self._analysed: list[frontend_service_pb2.AnalyzedSentence] = []
        self._infos: list[gw.SentenceInfo] = []
        self._busy_s = 0.0
        self._clock = (
            TimingClock(options.voice.sample_rate_hz)
            if options.enable_timings
            else None
        )
        """Times sentences across runs (pauses between runs included)."""

    async def responses(
        self, too_late: Callable[[], Exception]
    ) -> AsyncGenerator[_Response, None]:
        last_sent = False
        while True:
            try:
                async with asyncio.timeout(max(0.0, self._deadline.remaining())):
                    segments = await self._inbox.take()
            except TimeoutError:
                raise too_late() from None
            if segments is None:
                break
            started = time.perf_counter()
            async with contextlib.aclosing(self._segments(segments)) as responses:
                async for response in responses:
                    last_sent |= response.chunk.last_in_stream
                    yield response
            self._busy_s += time.perf_counter() - started
        if self._next_index == 0:
            raise InvalidInput(
                "the stream had no text to speak; send text messages (words, not "
                "only marks) after the config"
            )
        if not last_sent:  # the client ended after the last audio went out
            audio = await self._encode(self._edge.finish)
            yield _Response(chunk=gw.SynthesisChunk(
                audio=audio, sentence_index=self._next_index - 1, last_in_stream=True,
                final_header=self._edge.final_header,
            ))  # fmt: skip
        self._metrics.synthesized(self._options.voice.name, self._infos, self._busy_s)

    async def _segments(
        self, segments: list[Segment]
    ) -> AsyncGenerator[_Response, None]:
        """Speak the segments that were waiting, as one text."""
        text = "".join(s.text for s in segments)
        job = SynthesisJob(
            dataclasses.replace(self._options, text=text), self._deadline
        )
        _LOGGER.info(
            "text stream: %d segment(s), %d chars (sha256 %s)", len(segments),
            len(text), hashlib.sha256(text.encode()).hexdigest()[:16],
        )  # fmt: skip
        try:
            analysis = await self._pipeline.analyze(job)
        except InvalidInput as exc:
            # Letters the frontend cannot read (rule 6 let them through): skip
            # them as it skips marks, rather than end the whole stream.
            if not exc.message.startswith(NOTHING_TO_SPEAK):
                raise
            _LOGGER.info("text stream: a segment had nothing to speak; skipped")
            return
        self._analysed.extend(analysis.sentences)
        cfg = self._cfg
        self._options.check_audio(self._analysed, cfg.max_audio_s, cfg.max_symbol_s)
        offset, final = self._next_index, analysis.sentences[-1].index
        edge, inbox = self._edge, self._inbox
        async with contextlib.aclosing(self._pipeline.pieces(job, analysis)) as pieces:
            async for piece in pieces:
                inbox.check()  # a bad message stops the call at once
                if not self._header_sent:  # after the first piece: see _stream
                    self._header_sent = True
                    yield _Response(header=self._header())
                audio = b""
                if self._pause_ms:  # the silence between the last run and this one
                    rate = edge.model_rate_hz
                    pause = np.zeros(rate * self._pause_ms // 1000, np.int16)
                    audio, self._pause_ms = await self._encode(edge.push, pause), 0
                    if self._clock is not None:  # the pause ends the last sentence
                        self._clock.advance(pause.size, gw.SentenceInfo())
                audio += await self._encode(edge.push, piece.pcm, piece.gain_db)
                end = piece.info is not None
                info = None
                if piece.info is not None:
                    info = gw.SentenceInfo()
                    info.CopyFrom(piece.info)
                    info.index = offset + piece.index
                    self._infos.append(info)
                if self._clock is not None:
                    self._clock.advance(
                        piece.pcm.size, info, piece.sentence, piece.durations
                    )
                last = end and piece.index == final and inbox.drained
                if last:
                    audio += await self._encode(edge.finish)
                if audio and not self._first_audio:
                    self._first_audio = True
                    closed = inbox.first_closed_at or time.perf_counter()
                    self._metrics.first_audio(
                        METHOD, piece.cached, time.perf_counter() - closed
                    )
                if audio or end:
                    yield _Response(chunk=gw.SynthesisChunk(
                        audio=audio, sentence_index=offset + piece.index,
                        last_in_sentence=end, last_in_stream=last, sentence=info,
                        final_header=edge.final_header if last else b"",
                    ))  # fmt: skip
        self._next_index = offset + final + 1
        self._pause_ms = segments[-1].pause_after_ms

    def _header(self) -> gw.StreamSynthesizeHeader:
        opts, edge = self._options, self._edge
        return gw.StreamSynthesizeHeader(
            request_id=opts.request_id, encoding=edge.encoding,
            sample_rate_hz=edge.sample_rate_hz, voice=opts.voice.name,
            revisions=opts.voice.revisions(), num_sentences=0,
        )  # fmt: skip

    async def _encode(self, fn: Callable[..., bytes], *args: Any) -> bytes:
        """Compress or resample on a thread; raw PCM or WAV at the model rate
        inline (as the servicer's edge does)."""
        edge = self._edge
        if edge.encoding in _RAW and edge.sample_rate_hz == edge.model_rate_hz:
            return fn(*args)
        return await asyncio.to_thread(fn, *args)
