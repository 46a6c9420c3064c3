"""``StreamingSynthesize``: text in as it is written, audio out as sentences close.

The first request message is a config (a ``StreamSynthesizeRequest`` with empty
``text``), checked once as ``StreamSynthesize`` checks its request. Text pieces and
flushes follow; a reader task (:mod:`gateway.streaming_text_input`) feeds them to a
:class:`~gateway.text_stream.TextAccumulator`, whose closed segments queue up in a
:class:`~gateway.streaming_text_input.SegmentInbox`. The call's own task
(:mod:`gateway.streaming_text_output`) takes them in order: each time it is free, every
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
import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from gateway.config import GatewayConfig
from gateway.metrics import GatewayMetrics
from gateway.options import SynthesisOptions
from gateway.pace import advising, answer_margin_s
from gateway.pipeline import Pipeline
from gateway.stages import Deadline
from gateway.streaming_text_input import SegmentInbox, read_requests
from gateway.streaming_text_output import SegmentSpeaker
from gateway.validation import parsed, request_id_of
from gateway.voices import VoiceCatalog
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.errors import DeadlineExceeded, InvalidInput
from tts_common.interceptors import REQUEST_ID_HEADER
from tts_common.logging import REQUEST_ID

__all__ = ["TextStreams"]

_LOGGER = logging.getLogger(__name__)
_PROBE_TEXT = "。"
"""Stands in for the config's (empty) text while its other fields are checked: the
text of a stream is checked as it comes."""


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
    ) -> AsyncGenerator[gw.StreamingSynthesizeResponse, None]:
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
        inbox = SegmentInbox()
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
        reader = asyncio.create_task(read_requests(requests, inbox, limit))
        speaker = SegmentSpeaker(
            self._cfg, self._pipeline, self._metrics, options, deadline, inbox
        )
        try:
            with advising(too_late):
                async with contextlib.aclosing(
                    speaker.responses(too_late)
                ) as responses:
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


def _too_late(given: float, inbox: SegmentInbox) -> Callable[[], Exception]:
    def error() -> Exception:
        return DeadlineExceeded(
            f"the call's deadline ({given:.1f} s) ran out, {inbox.chars} characters "
            "of text in: a text stream must end within its deadline (waiting for "
            "text included); set a longer one, or end the request stream sooner"
        )

    return error
