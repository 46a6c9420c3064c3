"""AcousticService: KAN-TTS symbols in, a header and mel chunks out (no torch here)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

import grpc
import numpy as np

from acoustic_svc.model import AcousticModel
from sambert_tts_protos.v1 import acoustic_service_pb2 as pb
from sambert_tts_protos.v1 import acoustic_service_pb2_grpc as pb_grpc
from sambert_tts_protos.v1 import audio_pb2
from tts_common.audio import encode_mel
from tts_common.errors import VoiceNotFound
from tts_common.executor import BoundedExecutor

__all__ = ["WARMUP_SYMBOLS", "AcousticServicer"]

_LOGGER = logging.getLogger(__name__)

WARMUP_SYMBOLS = (
    "{n_c$tone3$s_begin$word_begin$emotion_neutral$F7} "
    "{i_c$tone3$s_end$word_end$emotion_neutral$F7} "
    "{#4$tone_none$s_none$word_none$emotion_none$F7}"
)
"""One syllable (ni3) that every PinYin voice can say; used to warm each model up."""


class AcousticServicer(pb_grpc.AcousticServiceServicer):  # type: ignore[misc,unused-ignore]
    """Streams mel for one sentence per RPC from the loaded voices.

    Every blocking model call (preparing the stream, then each ``next()`` of the
    chunk iterator) is a separate job in the bounded executor: the event loop never
    blocks, a full queue answers RESOURCE_EXHAUSTED at once, and a client that
    cancels stops the decoder between two chunks. In-flight streams are counted by
    the server interceptor (``grpc_server_in_flight{grpc_method="StreamMel"}``).
    """

    def __init__(
        self,
        models: Mapping[str, AcousticModel],
        executor: BoundedExecutor,
        *,
        chunk_steps: int = 4,
    ) -> None:
        """Create the servicer.

        Args:
            models: Loaded models by voice name; at least one. The first is the
                default voice, used when a request leaves ``voice`` empty.
            executor: Runs the model calls.
            chunk_steps: Decoder steps per chunk when a request leaves it at 0.

        Raises:
            ValueError: No models.
        """
        if not models:
            raise ValueError("at least one acoustic model is needed")
        self._models = dict(models)
        self._default = next(iter(self._models))
        self._executor = executor
        self._chunk_steps = chunk_steps

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Add this servicer to ``server``; returns the service's full name."""
        pb_grpc.add_AcousticServiceServicer_to_server(self, server)  # type: ignore[no-untyped-call,unused-ignore]
        return [pb.DESCRIPTOR.services_by_name["AcousticService"].full_name]

    async def warm_up(self) -> None:
        """Run one real inference per voice, so the first request pays no set-up."""
        for name, model in self._models.items():
            mel = await self._executor.submit(model.mel, WARMUP_SYMBOLS)
            _LOGGER.info("warmed up voice %s: %s frames", name, len(mel))

    async def close(self) -> None:
        """Stop the executor (waiting for running jobs), then release the models."""
        await asyncio.to_thread(self._executor.close)
        for model in self._models.values():
            model.close()

    async def StreamMel(  # noqa: N802  (gRPC method name)
        self, request: pb.StreamMelRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamMelResponse]:
        """Header first, then mel chunks; the last chunk has ``last`` set.

        Admission by deadline applies to the first job only (the one that starts the
        stream): it is refused at once (RESOURCE_EXHAUSTED, ``retry-after-ms``) when
        the executor's estimated wait plus one service time exceeds the caller's
        remaining deadline. The service time is an EWMA over every job, here mostly
        one chunk each, so this asks "can the stream start in time?", not "can every
        chunk finish?"; the chunk jobs that follow are plain submissions, dropped
        unstarted when the deadline cancels the call.
        """
        model = self._model(request.voice)
        # Proto3 zero values mean "not set": 0 speed is natural speed, "" keeps the
        # emotion and speaker written in the symbols.
        chunks: Iterator[np.ndarray] = await self._executor.submit_within(
            context.time_remaining(),
            model.stream_mel,
            request.symbols,
            speed=request.speed or 1.0,
            emotion=request.emotion or None,
            speaker=request.speaker or None,
            chunk_steps=request.chunk_steps or self._chunk_steps,
        )
        yield pb.StreamMelResponse(header=_header(model))
        index = start = 0
        while True:
            item: np.ndarray | None = await self._executor.submit(next, chunks, None)
            # The end is only known when next() says so; sending each chunk at once
            # and a final empty one keeps the first audio a decoder step earlier
            # than holding every chunk back until the next one is ready.
            last = item is None
            mel = np.zeros((0, model.num_mels), np.float32) if item is None else item
            chunk = audio_pb2.MelChunk(
                mel=encode_mel(mel), chunk_index=index, start_frame=start, last=last
            )
            yield pb.StreamMelResponse(chunk=chunk)
            if last:
                break
            index += 1
            start += len(mel)
        _LOGGER.debug("streamed %s frames in %s chunks", start, index)

    async def GetModelInfo(  # noqa: N802  (gRPC method name)
        self,
        request: pb.AcousticServiceGetModelInfoRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.AcousticServiceGetModelInfoResponse:
        """The loaded voices with their revisions, inventories and mel geometry."""
        return pb.AcousticServiceGetModelInfoResponse(
            voices=[_voice_info(m) for m in self._models.values()],
            default_voice=self._default,
        )

    def _model(self, voice: str) -> AcousticModel:
        name = voice or self._default
        model = self._models.get(name)
        if model is None:
            raise VoiceNotFound(
                f"voice {name[:64]!r} is not served here; "
                f"available: {', '.join(self._models)}"
            )
        return model


def _header(model: AcousticModel) -> audio_pb2.MelHeader:
    """What the stream carries; the frame count is unknown before decoding."""
    return audio_pb2.MelHeader(
        voice=model.voice,
        revision=model.revision,
        num_mels=model.num_mels,
        hop_length=model.hop_length,
        sample_rate_hz=model.sample_rate,
    )


def _voice_info(model: AcousticModel) -> audio_pb2.VoiceInfo:
    return audio_pb2.VoiceInfo(
        name=model.voice,
        revision=model.revision,
        emotions=list(model.emotions),
        speakers=list(model.speakers),
        sample_rate_hz=model.sample_rate,
        num_mels=model.num_mels,
        hop_length=model.hop_length,
    )
