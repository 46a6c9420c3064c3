"""AcousticService: KAN-TTS symbols in, a header and mel chunks out (no torch here)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

import grpc
import numpy as np

from acoustic_svc.batcher import DecodeBatcher
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

    Every blocking model call is a job in the bounded executor, so the event loop
    never blocks and a full queue answers RESOURCE_EXHAUSTED at once: first the
    sentence's alignment (``stream_mel``), then its chunks, which go through the
    voice's :class:`~acoustic_svc.batcher.DecodeBatcher`: the sentences streaming
    at the same time share each decoder step (one job per batch of chunks). A
    client that cancels leaves the batch, and its sentence stops decoding at the
    next round. In-flight streams are counted by the server interceptor
    (``grpc_server_in_flight{grpc_method="StreamMel"}``).
    """

    def __init__(
        self,
        batchers: Mapping[str, DecodeBatcher],
        executor: BoundedExecutor,
        *,
        chunk_steps: int = 4,
    ) -> None:
        """Create the servicer.

        Args:
            batchers: One per voice (see :func:`acoustic_svc.batcher.build_batchers`);
                at least one. The first is the default voice, used when a request
                leaves ``voice`` empty.
            executor: The batchers' executor; runs the model calls.
            chunk_steps: Decoder steps per chunk when a request leaves it at 0.

        Raises:
            ValueError: No voices.
        """
        if not batchers:
            raise ValueError("at least one acoustic model is needed")
        self.batchers = dict(batchers)
        """The batcher of each voice (``batch_sizes`` counts its jobs by size)."""
        self._default = next(iter(self.batchers))
        self._executor = executor
        self._chunk_steps = chunk_steps

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Add this servicer to ``server``; returns the service's full name."""
        pb_grpc.add_AcousticServiceServicer_to_server(self, server)  # type: ignore[no-untyped-call,unused-ignore]
        return [pb.DESCRIPTOR.services_by_name["AcousticService"].full_name]

    async def warm_up(self) -> None:
        """Run one real inference per voice, so the first request pays no set-up."""
        for name, batcher in self.batchers.items():
            mel = await self._executor.submit(batcher.model.mel, WARMUP_SYMBOLS)
            _LOGGER.info("warmed up voice %s: %s frames", name, len(mel))

    async def close(self) -> None:
        """Stop the batchers and the executor, then release the models."""
        for batcher in self.batchers.values():
            await batcher.close()
        await asyncio.to_thread(self._executor.close)  # waits for running jobs
        for batcher in self.batchers.values():
            batcher.model.close()

    async def StreamMel(  # noqa: N802  (gRPC method name)
        self, request: pb.StreamMelRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamMelResponse]:
        """Header first, then mel chunks; the last chunk has ``last`` set.

        Admission by deadline applies to the start of the stream: it is refused at
        once (RESOURCE_EXHAUSTED, ``retry-after-ms``) when the executor's estimated
        wait, plus the batches of the requests pending in the batcher, plus one
        service time exceed the caller's remaining deadline. A job is one
        sentence's alignment or one batch of chunks, so this asks "can the stream
        start in time?", not "can every chunk finish?"; the alignment job is dropped
        unstarted when the deadline passes in the queue, and the chunks are not
        re-admitted (a stream is not cut off half-way).
        """
        batcher = self._batcher(request.voice)
        model = batcher.model
        # Requests already pending in the batcher run before ours: their batches
        # are jobs ahead of us that the executor does not count yet.
        ahead = batcher.queued_batches / self._executor.max_workers
        self._executor.admit(context.time_remaining(), jobs=1 + ahead)
        # Proto3 zero values mean "not set": 0 speed is natural speed, "" keeps the
        # emotion and speaker written in the symbols.
        stream = await self._executor.submit_within(
            context.time_remaining(),
            model.stream_mel,
            request.symbols,
            speed=request.speed or 1.0,
            emotion=request.emotion or None,
            speaker=request.speaker or None,
            chunk_steps=request.chunk_steps or self._chunk_steps,
            pitch_semitones=request.pitch_semitones,
            energy_shift=request.energy_shift,
        )
        with batcher.joined(stream):
            yield pb.StreamMelResponse(header=_header(model, stream.symbol_frames))
            index = start = 0
            while True:
                item = await batcher.next_chunk(stream)
                # The end is only known when the model says so; sending each chunk
                # at once and a final empty one keeps the first audio a decoder
                # round earlier than holding every chunk back until the next one.
                last = item is None
                mel = (
                    np.zeros((0, model.num_mels), np.float32) if item is None else item
                )
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
            voices=[_voice_info(b.model) for b in self.batchers.values()],
            default_voice=self._default,
        )

    def _batcher(self, voice: str) -> DecodeBatcher:
        name = voice or self._default
        batcher = self.batchers.get(name)
        if batcher is None:
            raise VoiceNotFound(
                f"voice {name[:64]!r} is not served here; "
                f"available: {', '.join(self.batchers)}"
            )
        return batcher


def _header(model: AcousticModel, symbol_frames: Sequence[int]) -> audio_pb2.MelHeader:
    """What the stream carries; the duration predictor has fixed its length."""
    return audio_pb2.MelHeader(
        voice=model.voice,
        revision=model.revision,
        num_mels=model.num_mels,
        hop_length=model.hop_length,
        sample_rate_hz=model.sample_rate,
        num_frames=sum(symbol_frames),
        symbol_frames=symbol_frames,
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
