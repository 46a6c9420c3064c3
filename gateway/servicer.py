"""GatewayService: handlers, status codes, request-id echo and the audio edge."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any

import grpc

from gateway.cache import ReportCounters, check_report_args
from gateway.config import GatewayConfig
from gateway.encoding import AudioEdge
from gateway.metrics import GatewayMetrics
from gateway.options import SynthesisOptions
from gateway.pace import Pace, advising, answer_margin_s, in_time
from gateway.pipeline import Pipeline, SentencePiece, SynthesisJob
from gateway.stages import Deadline
from gateway.streaming_text import TextStreams
from gateway.timings import TimingClock
from gateway.validation import lenient, parsed, request_id_of
from gateway.voices import VoiceCatalog, load_catalog
from sambert_tts_protos.v1 import audio_pb2, frontend_service_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.errors import InvalidInput
from tts_common.interceptors import REQUEST_ID_HEADER
from tts_common.logging import REQUEST_ID

__all__ = ["SERVICE_NAME", "GatewayServicer"]


_LOGGER = logging.getLogger(__name__)
SERVICE_NAME = gw.DESCRIPTOR.services_by_name["GatewayService"].full_name
_Request = gw.SynthesizeRequest | gw.StreamSynthesizeRequest
_RAW = (audio_pb2.AUDIO_ENCODING_PCM_S16LE, audio_pb2.AUDIO_ENCODING_WAV)
_REPLY_SLACK = 64 << 10
"""Bytes of a unary reply besides the audio (sentence infos, header fields)."""


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


async def _edge(edge: AudioEdge, fn: Callable[..., bytes], *args: Any) -> bytes:
    """Compress or resample on a thread; raw PCM or WAV at the model rate inline,
    since a thread hop costs more than that work (it dominated cached requests)."""
    if edge.encoding in _RAW and edge.sample_rate_hz == edge.model_rate_hz:
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


class GatewayServicer:
    """The public API; all synthesis work is delegated to the :class:`Pipeline`."""

    def __init__(
        self,
        cfg: GatewayConfig,
        pipeline: Pipeline,
        counters: ReportCounters,
        metrics: GatewayMetrics,
    ) -> None:
        """Keep the settings, pipeline, counters and metrics; voices load in warm-up."""
        self._cfg, self._pipeline, self._counters = cfg, pipeline, counters
        self._metrics = metrics
        self._catalog: VoiceCatalog | None = None
        self.pace = Pace()
        """Measured seconds per character, for the deadline advice."""
        self._text_streams = TextStreams(cfg, pipeline, metrics, self._voices)

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Add the service with lenient request parsers; returns its full name."""
        unary = grpc.unary_unary_rpc_method_handler
        stream = grpc.unary_stream_rpc_method_handler
        methods: dict[str, tuple[Any, Any, Any]] = {
            "Synthesize": (unary, self.Synthesize, gw.SynthesizeRequest),
            "StreamSynthesize": (
                stream,
                self.StreamSynthesize,
                gw.StreamSynthesizeRequest,
            ),
            "StreamingSynthesize": (
                grpc.stream_stream_rpc_method_handler,
                self.StreamingSynthesize,
                gw.StreamingSynthesizeRequest,
            ),
            "ListVoices": (unary, self.ListVoices, gw.ListVoicesRequest),
            "GetCacheReport": (unary, self.GetCacheReport, gw.GetCacheReportRequest),
        }
        handlers = {
            name: kind(fn, lenient(req.FromString), _serialize)
            for name, (kind, fn, req) in methods.items()
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),)
        )
        server.add_registered_method_handlers(SERVICE_NAME, handlers)
        return [SERVICE_NAME]

    async def refresh_catalog(self, deadline: Deadline) -> VoiceCatalog:
        """Re-read the stages' voices (revisions change when a stage is redeployed)."""
        p = self._pipeline
        self._catalog = await load_catalog(p.frontend, p.acoustic, p.vocoder, deadline)
        self._metrics.voices(self._catalog)
        return self._catalog

    async def _voices(self, deadline: Deadline) -> VoiceCatalog:
        """The voices read so far, else read now."""
        return self._catalog or await self.refresh_catalog(deadline)

    def catalog_names(self) -> list[str]:
        """Names of the voices loaded so far."""
        return list(self._catalog.voices) if self._catalog else []

    async def Synthesize(  # noqa: N802  # gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> gw.SynthesizeResponse:
        """Synthesize the whole text and return one file."""
        started = time.perf_counter()
        job = await self._job(parsed(request), context)
        # Ends a margin before the caller's deadline, so our advice arrives first.
        async with in_time(job.deadline.remaining(), lambda: self._too_short(job)):
            edge, audio, infos = await self._synthesize(job)
        cached = all(i.cached for i in infos)
        elapsed = time.perf_counter() - started
        self._metrics.first_audio("Synthesize", cached, elapsed)
        if not any(i.cached for i in infos):
            self.pace.record(len(job.options.text), elapsed)
        self._metrics.synthesized(job.options.voice.name, infos, elapsed)
        rate, samples = edge.sample_rate_hz, edge.num_samples
        return gw.SynthesizeResponse(
            audio=audio, encoding=edge.encoding, sample_rate_hz=rate,
            num_samples=samples, duration_ms=round(samples * 1000 / rate),
            sentences=infos, request_id=job.options.request_id,
        )  # fmt: skip

    async def _synthesize(
        self, job: SynthesisJob
    ) -> tuple[AudioEdge, bytes, list[gw.SentenceInfo]]:
        """The whole audio of a unary call, refused once it outgrows a reply.

        Raises:
            InvalidInput: The audio would not fit in one reply message.
        """
        analysis = await self._analyze(job)
        edge = job.options.audio_edge(streaming=False)
        limit = self._cfg.server.max_message_bytes - _REPLY_SLACK
        infos = []
        clock = _clock(job.options)
        async with contextlib.aclosing(self._pipeline.pieces(job, analysis)) as pieces:
            async for piece in pieces:
                if clock is not None:
                    clock.advance(piece.pcm.size, piece.info, piece.sentence,
                                  piece.durations)  # fmt: skip
                # Unary: gain and resampling only (cheap); encoding runs once below.
                edge.push(piece.pcm, piece.gain_db)
                if piece.info is not None:
                    infos.append(piece.info)
                if edge.encoding in _RAW and 2 * edge.num_samples > limit:
                    raise _too_big(limit)  # the reply could only fail: stop now
        audio = await _edge(edge, edge.finish)
        if len(audio) > limit:
            raise _too_big(limit)
        return edge, audio, infos

    async def StreamSynthesize(  # noqa: N802  # gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gw.StreamSynthesizeResponse]:
        """Stream audio sentence by sentence, after a header."""
        started = time.perf_counter()
        job = await self._job(parsed(request), context)
        stream = contextlib.aclosing(self._stream(job, started))
        with advising(lambda: self._too_short(job)):
            async with stream as messages:
                async for message in messages:
                    yield message

    async def _stream(
        self, job: SynthesisJob, started: float
    ) -> AsyncGenerator[gw.StreamSynthesizeResponse, None]:
        first, cached = True, False
        infos: list[gw.SentenceInfo] = []  # for the metrics, once the stream ends
        analysis = await self._analyze(job)
        opts = job.options
        edge = opts.audio_edge(streaming=True)
        header = gw.StreamSynthesizeHeader(
            request_id=opts.request_id, encoding=edge.encoding,
            sample_rate_hz=edge.sample_rate_hz, voice=opts.voice.name,
            revisions=opts.voice.revisions(), num_sentences=len(analysis.sentences),
        )  # fmt: skip
        final_index = analysis.sentences[-1].index
        clock = _clock(opts)
        async with contextlib.aclosing(self._pipeline.pieces(job, analysis)) as pieces:
            # The header waits for the first piece, so that a refusal (admission)
            # or a failure before any audio ends the call with its status alone:
            # once a header is out, the HTTP bridge has already answered 200.
            head = await anext(pieces, None)
            yield gw.StreamSynthesizeResponse(header=header)
            async for piece in _prepend(head, pieces):
                cached |= piece.cached
                if clock is not None:
                    clock.advance(piece.pcm.size, piece.info, piece.sentence,
                                  piece.durations)  # fmt: skip
                audio = await _edge(edge, edge.push, piece.pcm, piece.gain_db)
                end = piece.info is not None
                infos.extend([piece.info] if piece.info is not None else [])
                last = end and piece.index == final_index
                if last:
                    audio += await _edge(edge, edge.finish)
                if audio and first:
                    first = False
                    self._metrics.first_audio(
                        "StreamSynthesize", piece.cached, time.perf_counter() - started
                    )
                if audio or end:
                    yield gw.StreamSynthesizeResponse(chunk=gw.SynthesisChunk(
                        audio=audio, sentence_index=piece.index, last_in_sentence=end,
                        last_in_stream=last, sentence=piece.info,
                        final_header=edge.final_header,  # WAV/FLAC, once finished
                    ))  # fmt: skip
        if not cached:
            self.pace.record(len(opts.text), time.perf_counter() - started)
        self._metrics.synthesized(opts.voice.name, infos, time.perf_counter() - started)

    async def StreamingSynthesize(  # noqa: N802  # gRPC method name
        self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gw.StreamingSynthesizeResponse]:
        """Text in pieces after a config; each sentence's audio as soon as its text
        is complete (:mod:`gateway.streaming_text`)."""
        stream = self._text_streams.run(requests, context)
        async with contextlib.aclosing(stream) as messages:
            async for message in messages:
                yield message

    async def ListVoices(  # noqa: N802  # gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> gw.ListVoicesResponse:
        """The voices all stages serve, read fresh from them."""
        parsed(request)
        deadline = Deadline.from_context(context, self._cfg.default_deadline_s)
        catalog = await self.refresh_catalog(deadline)
        reply = catalog.to_proto()
        limit = self._cfg.max_text_chars
        reply.max_text_chars = min(limit, catalog.frontend_max_chars or limit)
        return reply

    async def GetCacheReport(  # noqa: N802  # gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> gw.GetCacheReportResponse:
        """Cache counters per voice and overall, over the requested window."""
        report = parsed(request)
        check_report_args(report.window_s, report.max_top_sentences)
        return await self._counters.report(report)

    async def _analyze(self, job: SynthesisJob) -> frontend_service_pb2.AnalyzeResponse:
        """The analysis, refused when it could make more audio than allowed."""
        analysis = await self._pipeline.analyze(job)
        cfg = self._cfg
        job.options.check_audio(analysis.sentences, cfg.max_audio_s, cfg.max_symbol_s)
        return analysis

    def _too_short(self, job: SynthesisJob) -> Exception:
        return self.pace.too_short(len(job.options.text), job.deadline_s)

    async def _job(
        self, request: _Request, context: grpc.aio.ServicerContext
    ) -> SynthesisJob:
        """Check ``request`` into options (once) and a job; echo its request id
        first, so that a refusal carries it too.

        Raises:
            InvalidInput: A field is wrong; the message says how to fix it.
            VoiceNotFound: Unknown voice.
        """
        request_id = request_id_of(request.request_id)
        REQUEST_ID.set(request_id)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
        remaining = context.time_remaining()
        given = self._cfg.default_deadline_s if remaining is None else remaining
        deadline = Deadline(given - answer_margin_s(given))
        catalog = self._catalog or await self.refresh_catalog(deadline)
        options = SynthesisOptions.from_request(
            request, catalog, self._cfg.max_text_chars, request_id
        )
        digest = hashlib.sha256(options.text.encode("utf-8")).hexdigest()[:16]
        _LOGGER.info(
            "synthesis: %d chars (sha256 %s), voice %s, encoding %s",
            len(options.text), digest, options.voice.name, options.encoding,
        )  # fmt: skip
        return SynthesisJob(options=options, deadline=deadline, deadline_s=given)


def _clock(options: SynthesisOptions) -> TimingClock | None:
    """A clock timing each sentence, when the request asked for timings."""
    if not options.enable_timings:
        return None
    return TimingClock(options.voice.sample_rate_hz)


def _too_big(limit: int) -> InvalidInput:
    return InvalidInput(
        f"the audio would pass the {limit >> 20} MiB limit of one Synthesize reply; "
        "use StreamSynthesize, a compressed encoding or a lower sample_rate_hz"
    )


async def _prepend(
    head: SentencePiece | None, rest: AsyncIterator[SentencePiece]
) -> AsyncIterator[SentencePiece]:
    """``head`` (when not None), then the rest."""
    if head is not None:
        yield head
    async for piece in rest:
        yield piece
