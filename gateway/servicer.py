"""GatewayService: handlers, status codes, request-id echo and the audio edge."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc

from gateway.cache import ReportCounters
from gateway.config import GatewayConfig
from gateway.encoding import AudioEdge
from gateway.metrics import GatewayMetrics
from gateway.options import SynthesisOptions
from gateway.pipeline import Pipeline, SynthesisJob
from gateway.stages import Deadline
from gateway.validation import lenient, parsed, request_id_of
from gateway.voices import VoiceCatalog, load_catalog
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.interceptors import REQUEST_ID_HEADER
from tts_common.logging import REQUEST_ID

__all__ = ["SERVICE_NAME", "GatewayServicer"]


_LOGGER = logging.getLogger(__name__)
SERVICE_NAME = gw.DESCRIPTOR.services_by_name["GatewayService"].full_name
_Request = gw.SynthesizeRequest | gw.StreamSynthesizeRequest
_RAW = (audio_pb2.AUDIO_ENCODING_PCM_S16LE, audio_pb2.AUDIO_ENCODING_WAV)


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
        return self._catalog

    def catalog_names(self) -> list[str]:
        """Names of the voices loaded so far."""
        return list(self._catalog.voices) if self._catalog else []

    async def Synthesize(  # noqa: N802  # gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> gw.SynthesizeResponse:
        """Synthesize the whole text and return one file."""
        started = time.perf_counter()
        job = await self._job(parsed(request), context)
        analysis = await self._pipeline.analyze(job)
        opts = job.options
        edge = opts.audio_edge(streaming=False)
        infos = []
        async with contextlib.aclosing(self._pipeline.pieces(job, analysis)) as pieces:
            async for piece in pieces:
                # Unary: gain and resampling only (cheap); encoding runs once below.
                edge.push(piece.pcm, piece.gain_db)
                if piece.info is not None:
                    infos.append(piece.info)
        audio = await _edge(edge, edge.finish)
        cached = all(i.cached for i in infos)
        self._metrics.first_audio("Synthesize", cached, time.perf_counter() - started)
        rate, samples = edge.sample_rate_hz, edge.num_samples
        return gw.SynthesizeResponse(
            audio=audio, encoding=edge.encoding, sample_rate_hz=rate,
            num_samples=samples, duration_ms=round(samples * 1000 / rate),
            sentences=infos, request_id=opts.request_id,
        )  # fmt: skip

    async def StreamSynthesize(  # noqa: N802  # gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gw.StreamSynthesizeResponse]:
        """Stream audio sentence by sentence, after a header."""
        started, first = time.perf_counter(), True
        job = await self._job(parsed(request), context)
        analysis = await self._pipeline.analyze(job)
        opts = job.options
        edge = opts.audio_edge(streaming=True)
        header = gw.StreamSynthesizeHeader(
            request_id=opts.request_id, encoding=edge.encoding,
            sample_rate_hz=edge.sample_rate_hz, voice=opts.voice.name,
            revisions=opts.voice.revisions(), num_sentences=len(analysis.sentences),
        )  # fmt: skip
        yield gw.StreamSynthesizeResponse(header=header)
        final_index = analysis.sentences[-1].index
        async with contextlib.aclosing(self._pipeline.pieces(job, analysis)) as pieces:
            async for piece in pieces:
                audio = await _edge(edge, edge.push, piece.pcm, piece.gain_db)
                end = piece.info is not None
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
                    ))  # fmt: skip

    async def ListVoices(  # noqa: N802  # gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> gw.ListVoicesResponse:
        """The voices all stages serve, read fresh from them."""
        parsed(request)
        deadline = Deadline.from_context(context, self._cfg.default_deadline_s)
        return (await self.refresh_catalog(deadline)).to_proto()

    async def GetCacheReport(  # noqa: N802  # gRPC method name
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> gw.GetCacheReportResponse:
        """Cache counters per voice and overall, over the requested window."""
        return await self._counters.report(parsed(request))

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
        deadline = Deadline.from_context(context, self._cfg.default_deadline_s)
        catalog = self._catalog or await self.refresh_catalog(deadline)
        options = SynthesisOptions.from_request(
            request, catalog, self._cfg.max_text_chars, request_id
        )
        digest = hashlib.sha256(options.text.encode("utf-8")).hexdigest()[:16]
        _LOGGER.info(
            "synthesis: %d chars (sha256 %s), voice %s, encoding %s",
            len(options.text), digest, options.voice.name, options.encoding,
        )  # fmt: skip
        return SynthesisJob(options=options, deadline=deadline)
