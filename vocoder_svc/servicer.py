"""VocoderService: a stream of mel chunks in, a header and PCM chunks out (no torch)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

import grpc
import numpy as np

from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import vocoder_service_pb2 as pb
from sambert_tts_protos.v1 import vocoder_service_pb2_grpc as pb_grpc
from tts_common.audio import float_to_pcm16, pcm16_to_bytes
from tts_common.errors import InvalidInput, TtsError, VoiceNotFound
from tts_common.executor import BoundedExecutor
from vocoder_svc.batcher import VocodeBatcher
from vocoder_svc.inbox import MelInbox, first_audio_frames, step_limit
from vocoder_svc.model import Vocoder

__all__ = ["RevisionMismatch", "VocoderServicer"]

_LOGGER = logging.getLogger(__name__)
_Fmt = audio_pb2.PcmFormat
_WARMUP_FRAMES = 32


class RevisionMismatch(TtsError):
    """The caller expects a vocoder revision other than the one served."""

    status = "FAILED_PRECONDITION"


class VocoderServicer(pb_grpc.VocoderServiceServicer):  # type: ignore[misc,unused-ignore]
    """Vocodes one sentence per stream, batching work across streams per voice.

    Each stream is a :class:`~vocoder_svc.model.VocoderStream` in its voice's
    model: every frame is vocoded once, the layers keeping their state between
    chunks, and audio is sent as soon as it is final. The chunks of every stream
    of a voice meet in that voice's batcher, which runs them in one pass.
    """

    def __init__(
        self, batchers: Mapping[str, VocodeBatcher], executor: BoundedExecutor
    ) -> None:
        """Create the servicer.

        Args:
            batchers: One per voice (see :func:`vocoder_svc.batcher.build_batchers`);
                the first is the default voice.
            executor: The batchers' executor, closed by :meth:`close`.

        Raises:
            ValueError: No voices.
        """
        if not batchers:
            raise ValueError("at least one vocoder is needed")
        self.batchers = dict(batchers)
        """The batcher of each voice (``batch_sizes`` counts its batches by size)."""
        self._default = next(iter(self.batchers))
        self._executor = executor

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Add this servicer to ``server``; returns the service's full name."""
        pb_grpc.add_VocoderServiceServicer_to_server(self, server)  # type: ignore[no-untyped-call,unused-ignore]
        return [pb.DESCRIPTOR.services_by_name["VocoderService"].full_name]

    async def warm_up(self) -> None:
        """Vocode a short silent mel per voice through its batcher (a real pass)."""
        for name, batcher in self.batchers.items():
            mel = np.zeros((_WARMUP_FRAMES, batcher.vocoder.num_mels), np.float32)
            audio = await batcher.vocode(batcher.open_stream(), mel, end=True)
            _LOGGER.info("warmed up voice %s: %s samples", name, len(audio))

    async def close(self) -> None:
        """Stop the batchers and the executor, then release the models."""
        for batcher in self.batchers.values():
            await batcher.close()
        await asyncio.to_thread(self._executor.close)  # waits for running batches
        for batcher in self.batchers.values():
            batcher.vocoder.close()

    async def StreamVocode(  # noqa: N802  (gRPC method name)
        self,
        requests: AsyncIterator[pb.StreamVocodeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.StreamVocodeResponse]:
        """Config in, header out; then mel chunks in, PCM chunks out, in order.

        Admission by deadline happens once, at the config (the start of the
        sentence), before the header: refused at once (RESOURCE_EXHAUSTED,
        ``retry-after-ms``) when the executor's estimated wait, plus the batches of
        the steps pending in the batcher, plus one service time exceed the
        caller's remaining deadline. A job here is one batch of stream steps,
        so this asks "can the first audio come in time?"; the chunks that follow
        are not re-admitted (a stream is not cut off half-way).
        """
        first = await anext(aiter(requests), None)
        if first is None or not first.HasField("config"):
            raise InvalidInput("send a config message first, then mel chunks")
        voice, batcher = self._open(first.config)
        # Steps already pending in the batcher run before ours: their batches
        # are jobs ahead of us that the executor does not count yet.
        ahead = batcher.queued_batches / self._executor.max_workers
        self._executor.admit(context.time_remaining(), jobs=1 + ahead)
        voc, out = batcher.vocoder, _PcmOut(first.config.pcm_format)
        yield pb.StreamVocodeResponse(header=out.header(voice, voc, first.config))
        stream = batcher.open_stream()
        async with MelInbox(requests, voc.num_mels) as inbox:
            end = False
            while not end:
                played, look_ahead = (
                    out.samples // voc.hop_length,
                    voc.context_frames[1],
                )
                limit = step_limit(stream.frames, played, look_ahead)
                # Until audio flows, wait for enough frames to make some.
                at_least = 1 if played else first_audio_frames(look_ahead)
                frames, end = await inbox.take(limit, at_least - stream.frames)
                if end and stream.frames + len(frames) == 0:
                    raise InvalidInput(
                        "mel stream had no frames: send at least one frame"
                    )
                if not len(frames) and (not end or voc.causal):
                    audio = np.zeros(0, np.float32)  # a causal model owes nothing
                else:
                    audio = await batcher.vocode(stream, frames, end)
                if len(audio) or end:
                    yield out.chunk(audio, last=end)

    async def GetModelInfo(  # noqa: N802  (gRPC method name)
        self,
        request: pb.VocoderServiceGetModelInfoRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.VocoderServiceGetModelInfoResponse:
        """The loaded voices with their vocoder revisions and audio geometry."""
        voices = [_voice_info(name, b.vocoder) for name, b in self.batchers.items()]
        return pb.VocoderServiceGetModelInfoResponse(
            voices=voices, default_voice=self._default
        )

    def _open(self, config: pb.VocodeConfig) -> tuple[str, VocodeBatcher]:
        """The voice and its batcher for ``config``, after checking they fit."""
        header = config.mel_header
        voice = header.voice or self._default
        batcher = self.batchers.get(voice)
        if batcher is None:
            raise VoiceNotFound(
                f"voice {voice[:64]!r} is not served here; "
                f"available: {', '.join(self.batchers)}"
            )
        voc = batcher.vocoder
        if config.expected_revision and config.expected_revision != voc.revision:
            raise RevisionMismatch(
                f"vocoder revision is {voc.revision}, not the expected "
                f"{config.expected_revision[:64]}; refresh the revision and retry"
            )
        if config.pcm_format not in _Fmt.values():
            raise InvalidInput(f"unknown pcm_format {config.pcm_format}")
        for name, sent, served in (
            ("num_mels", header.num_mels, voc.num_mels),
            ("hop_length", header.hop_length, voc.hop_length),
            ("sample_rate_hz", header.sample_rate_hz, voc.sample_rate),
        ):
            if sent and sent != served:
                raise InvalidInput(
                    f"mel_header.{name} is {sent} but voice {voice!r} is vocoded "
                    f"with {served}; the acoustic and vocoder voices do not match"
                )
        return voice, batcher


def _voice_info(name: str, voc: Vocoder) -> audio_pb2.VoiceInfo:
    return audio_pb2.VoiceInfo(
        name=name,
        revision=voc.revision,
        sample_rate_hz=voc.sample_rate,
        num_mels=voc.num_mels,
        hop_length=voc.hop_length,
    )


class _PcmOut:
    """The server side of one stream: its header, then numbered PCM chunks."""

    def __init__(self, pcm_format: audio_pb2.PcmFormat) -> None:
        self._fmt = pcm_format or audio_pb2.PCM_FORMAT_S16LE
        self._index = self._start = 0

    @property
    def samples(self) -> int:
        """Samples sent so far."""
        return self._start

    def header(
        self, voice: str, voc: Vocoder, config: pb.VocodeConfig
    ) -> pb.VocodeHeader:
        """What the stream will carry; the acoustic revision is echoed."""
        return pb.VocodeHeader(
            voice=voice,
            revision=voc.revision,
            sample_rate_hz=voc.sample_rate,
            pcm_format=self._fmt,
            acoustic_revision=config.mel_header.revision,
        )

    def chunk(self, audio: np.ndarray, *, last: bool) -> pb.StreamVocodeResponse:
        """The next response carrying ``audio`` (float32 in [-1, 1])."""
        if self._fmt == audio_pb2.PCM_FORMAT_F32LE:
            data = np.asarray(audio, dtype="<f4").tobytes()
        else:
            data = pcm16_to_bytes(float_to_pcm16(audio))
        pcm = pb.PcmChunk(
            pcm=data,
            num_samples=len(audio),
            chunk_index=self._index,
            start_sample=self._start,
            last=last,
        )
        self._index += 1
        self._start += len(audio)
        return pb.StreamVocodeResponse(audio=pcm)
