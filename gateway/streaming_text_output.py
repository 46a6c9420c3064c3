"""Speaking a ``StreamingSynthesize`` call: segments in, the header and chunks out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import numpy as np

from gateway.config import GatewayConfig
from gateway.metrics import GatewayMetrics
from gateway.options import SynthesisOptions
from gateway.pipeline import Pipeline, SynthesisJob
from gateway.stages import Deadline
from gateway.streaming_text_input import SegmentInbox
from gateway.text_stream import Segment
from gateway.timings import TimingClock
from sambert_tts_protos.v1 import audio_pb2, frontend_service_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.errors import NOTHING_TO_SPEAK, InvalidInput

__all__ = ["METHOD", "SegmentSpeaker"]

_LOGGER = logging.getLogger(__name__)
METHOD = "StreamingSynthesize"
"""The RPC's name, as the first-audio metric labels it."""
_RAW = (audio_pb2.AUDIO_ENCODING_PCM_S16LE, audio_pb2.AUDIO_ENCODING_WAV)
_Response = gw.StreamingSynthesizeResponse


class SegmentSpeaker:
    """One call's output: segments in, the header and chunks out."""

    def __init__(
        self,
        cfg: GatewayConfig,
        pipeline: Pipeline,
        metrics: GatewayMetrics,
        options: SynthesisOptions,
        deadline: Deadline,
        inbox: SegmentInbox,
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
        """Speak the inbox's segments as they come, until its input ends.

        Raises:
            InvalidInput: The whole stream had nothing to speak.
            Exception: ``too_late()`` once the deadline passes while waiting for
                text; what stopped the reader; the pipeline's errors.
        """
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
                if not self._header_sent:
                    # After the first piece, as in GatewayServicer._stream: a
                    # refusal before any audio ends the call with its status alone.
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
