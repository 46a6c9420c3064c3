"""Fake frontend, acoustic and vocoder stages speaking the real protos, in process.

They are deterministic so tests can predict every sample: the frontend splits text
at "。", each sentence's symbols are its text, the acoustic stage makes
``frames_for(symbols)`` frames, and the vocoder turns each frame into ``HOP``
samples of a sine whose amplitude is the frame's first mel bin. Hooks let tests
block a sentence, fail it, or crash a whole replica mid-stream (more replicas of a
stage come from :meth:`FakeStages.replica`), and each fake records deadlines,
request ids and cancellations.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import grpc
import numpy as np

from sambert_tts_protos.v1 import acoustic_service_pb2 as am_pb2
from sambert_tts_protos.v1 import acoustic_service_pb2_grpc as am_grpc
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import frontend_service_pb2 as fe_pb2
from sambert_tts_protos.v1 import frontend_service_pb2_grpc as fe_grpc
from sambert_tts_protos.v1 import vocoder_service_pb2 as voc_pb2
from sambert_tts_protos.v1 import vocoder_service_pb2_grpc as voc_grpc
from tests.service.runtime_helpers import free_port
from tts_common.audio import decode_mel, encode_mel, float_to_pcm16, pcm16_to_bytes
from tts_common.config import ServerConfig
from tts_common.health import HealthState
from tts_common.interceptors import REQUEST_ID_HEADER
from tts_common.server import build_server

RATE = 16000
"""Native rate of every fake voice, in Hz."""
HOP = 40
"""Samples per mel frame."""
MELS = 4
"""Mel bins."""
CHUNK_FRAMES = 5
"""Frames per mel chunk."""
VOICES = {"zhitian_emo": ("happy", "sad"), "zhiyan_emo": ()}
"""Voice -> emotions."""
SPEAKERS = ("F7",)


def frames_for(symbols: str) -> int:
    """Frames the fake acoustic stage makes for a sentence."""
    return 4 * len(symbols) + 3


def symbol_frames(symbols: str) -> list[int]:
    """The fake's durations: ``frames_for`` shared evenly by the space-separated
    symbols, the remainder on the last."""
    count = max(len(symbols.split()), 1)
    total = frames_for(symbols)
    return [total // count] * (count - 1) + [total - total // count * (count - 1)]


def samples_for(text: str) -> int:
    """Model-rate samples the fakes make for ``text`` (no breaks)."""
    return sum(frames_for(s) * HOP for s in split_sentences(text))


def split_sentences(text: str) -> list[str]:
    """The fake frontend's sentence split."""
    return [s for s in text.split("。") if s.strip()]


def _request_id(context: grpc.aio.ServicerContext) -> str:
    metadata: dict[str, str] = dict(context.invocation_metadata() or ())
    return metadata.get(REQUEST_ID_HEADER, "")


@dataclass
class Observed:
    """What one fake saw."""

    calls: int = 0
    request_ids: list[str] = field(default_factory=list)
    time_remaining: list[float | None] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, context: grpc.aio.ServicerContext, what: str = "") -> None:
        self.calls += 1
        self.request_ids.append(_request_id(context))
        self.time_remaining.append(context.time_remaining())
        self.started.append(what)


class FakeFrontend(fe_grpc.FrontendServiceServicer):
    """Analyze: split at "。"; symbols are the sentence text."""

    def __init__(self) -> None:
        self.seen = Observed()
        self.break_after_ms = 0
        """Silence the frontend asks for after every sentence."""

    async def Analyze(self, request, context):
        self.seen.record(context, request.text)
        sentences = [
            fe_pb2.AnalyzedSentence(
                index=i,
                normalized_text=s,
                symbols=s,
                emotion=request.emotion,
                speaker=request.speaker,
                extras=fe_pb2.SentenceExtras(break_after_ms=self.break_after_ms),
            )
            for i, s in enumerate(split_sentences(request.text))
        ]
        return fe_pb2.AnalyzeResponse(
            sentences=sentences, voice=request.voice, revision="fe-rev"
        )

    async def GetModelInfo(self, request, context):
        voices = [audio_pb2.VoiceInfo(name=v, revision="fe-rev") for v in VOICES]
        return fe_pb2.FrontendServiceGetModelInfoResponse(
            voices=voices, revision="fe-rev"
        )


class FakeAcoustic(am_grpc.AcousticServiceServicer):
    """StreamMel: header, then chunks; a sentence containing a gate's key blocks
    after its first chunk until the gate is set, and one containing a failure's key
    then ends with that status."""

    def __init__(self) -> None:
        self.seen = Observed()
        self.gates: dict[str, asyncio.Event] = {}
        self.requests: list[am_pb2.StreamMelRequest] = []
        self.failures: dict[str, grpc.StatusCode] = {}
        """Sentences containing a key end with that status after their first chunk."""
        self.chunk_delay_s = 0.0
        """Time each chunk takes (a model's service time), one sentence at a time."""
        self._busy = asyncio.Lock()

    async def StreamMel(
        self, request, context
    ) -> AsyncIterator[am_pb2.StreamMelResponse]:
        self.seen.record(context, request.symbols)
        self.requests.append(request)
        try:
            total = frames_for(request.symbols)
            yield am_pb2.StreamMelResponse(header=audio_pb2.MelHeader(
                voice=request.voice, revision="am-rev", num_mels=MELS, hop_length=HOP,
                sample_rate_hz=RATE, num_frames=total,
                symbol_frames=symbol_frames(request.symbols),
            ))  # fmt: skip
            base = sum(map(ord, request.symbols)) % 7
            mel = np.array(
                [[0.1 + 0.1 * ((base + f) % 8)] * MELS for f in range(total)]
            )
            for index, start in enumerate(range(0, total, CHUNK_FRAMES)):
                block = mel[start : start + CHUNK_FRAMES]
                last = start + CHUNK_FRAMES >= total
                chunk = audio_pb2.MelChunk(
                    mel=encode_mel(block), chunk_index=index, start_frame=start,
                    last=last,
                )  # fmt: skip
                if self.chunk_delay_s:
                    async with self._busy:  # one model: sentences take turns
                        await asyncio.sleep(self.chunk_delay_s)
                yield am_pb2.StreamMelResponse(chunk=chunk)
                for key, gate in self.gates.items():
                    if key in request.symbols:
                        await gate.wait()
                for key, code in self.failures.items():
                    if key in request.symbols:
                        await context.abort(code, f"fake acoustic failure ({key})")
        except asyncio.CancelledError:
            self.seen.cancelled.set()
            raise

    async def GetModelInfo(self, request, context):
        voices = [
            audio_pb2.VoiceInfo(
                name=v,
                revision="am-rev",
                emotions=e,
                speakers=SPEAKERS,
                sample_rate_hz=RATE,
                num_mels=MELS,
                hop_length=HOP,
            )
            for v, e in VOICES.items()
        ]
        return am_pb2.AcousticServiceGetModelInfoResponse(
            voices=voices, default_voice="zhitian_emo"
        )


class FakeVocoder(voc_grpc.VocoderServiceServicer):
    """StreamVocode: header after the config, then HOP sine samples per frame."""

    def __init__(self) -> None:
        self.seen = Observed()
        self.crash_after: int | None = None
        """After this many audio chunks of one stream the replica crashes: its
        server stops without grace, so every stream on it breaks."""
        self.server: grpc.aio.Server | None = None
        self._crashing: list[asyncio.Future[None]] = []

    async def StreamVocode(self, request_iterator, context):
        try:
            first = await anext(request_iterator)
            self.seen.record(context, first.config.mel_header.voice)
            yield voc_pb2.StreamVocodeResponse(header=voc_pb2.VocodeHeader(
                voice=first.config.mel_header.voice, revision="voc-rev",
                sample_rate_hz=RATE, pcm_format=audio_pb2.PCM_FORMAT_S16LE,
                acoustic_revision=first.config.mel_header.revision,
            ))  # fmt: skip
            got_last = False
            async for message in request_iterator:
                chunk = message.mel
                got_last = chunk.last
                mel = decode_mel(chunk.mel, MELS)
                start = chunk.start_frame * HOP
                t = np.arange(start, start + mel.shape[0] * HOP) / RATE
                amp = np.repeat(mel[:, 0], HOP)
                pcm = float_to_pcm16(amp * np.sin(2 * math.pi * 330 * t))
                yield voc_pb2.StreamVocodeResponse(audio=voc_pb2.PcmChunk(
                    pcm=pcm16_to_bytes(pcm), num_samples=pcm.size,
                    chunk_index=chunk.chunk_index, start_sample=start, last=chunk.last,
                ))  # fmt: skip
                if chunk.chunk_index + 1 == self.crash_after and self.server:
                    self._crashing.append(asyncio.ensure_future(self.server.stop(None)))
                    await asyncio.Event().wait()  # the stop cancels this handler
            if not got_last:
                # A client that cancels ends our request iterator first; the
                # cancellation itself arrives at the next await.
                await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.seen.cancelled.set()
            raise

    async def GetModelInfo(self, request, context):
        voices = [
            audio_pb2.VoiceInfo(
                name=v,
                revision="voc-rev",
                sample_rate_hz=RATE,
                num_mels=MELS,
                hop_length=HOP,
            )
            for v in VOICES
        ]
        return voc_pb2.VocoderServiceGetModelInfoResponse(
            voices=voices, default_voice="zhitian_emo"
        )


@dataclass
class StageServer:
    """One started fake stage."""

    server: grpc.aio.Server
    health: HealthState
    addr: str


async def start_stage(
    servicer: object,
    add: Callable[[object, grpc.aio.Server], object],
    name: str,
    port: int = 0,
) -> StageServer:
    """Serve ``servicer`` on ``port`` (0: a free one), SERVING at once."""

    def register(server: grpc.aio.Server) -> Sequence[str]:
        add(servicer, server)
        return [name]

    cfg = ServerConfig(host="127.0.0.1", port=port, grace_s=0.5)
    server, port, health = build_server(cfg, register)
    await server.start()
    await health.mark_serving()
    return StageServer(server, health, f"127.0.0.1:{port}")


@dataclass
class FakeStages:
    """The three fakes and their servers."""

    frontend: FakeFrontend
    acoustic: FakeAcoustic
    vocoder: FakeVocoder
    servers: list[StageServer]

    @property
    def addrs(self) -> tuple[str, str, str]:
        """Frontend, acoustic, vocoder addresses."""
        return (self.servers[0].addr, self.servers[1].addr, self.servers[2].addr)

    async def replica(self, stage: str, port: int = 0) -> tuple[object, StageServer]:
        """Start one more fake of ``stage`` ("acoustic" or "vocoder"), on ``port``
        (e.g. the port of a replica that crashed: a restart) or a free one."""
        servicer, server = await _start(stage, port)
        self.servers.append(server)
        return servicer, server

    async def stop(self) -> None:
        """Release gates, then stop every server."""
        for gate in self.acoustic.gates.values():
            gate.set()
        await asyncio.gather(*(s.server.stop(None) for s in self.servers))


_KINDS: dict[str, tuple[Callable[[], object], Callable[..., None], str]] = {
    "frontend": (FakeFrontend, fe_grpc.add_FrontendServiceServicer_to_server,
                 "Frontend"),
    "acoustic": (FakeAcoustic, am_grpc.add_AcousticServiceServicer_to_server,
                 "Acoustic"),
    "vocoder": (FakeVocoder, voc_grpc.add_VocoderServiceServicer_to_server,
                "Vocoder"),
}  # fmt: skip


async def _start(stage: str, port: int = 0) -> tuple[object, StageServer]:
    make, add, name = _KINDS[stage]
    servicer = make()
    server = await start_stage(servicer, add, f"tts.v1.{name}Service", port)
    if isinstance(servicer, FakeVocoder):
        servicer.server = server.server
    return servicer, server


async def start_fake_stages() -> FakeStages:
    """Start the three fakes on free ports."""
    started = [await _start(stage) for stage in ("frontend", "acoustic", "vocoder")]
    (fe, _), (am, _), (voc, _) = started
    assert isinstance(fe, FakeFrontend) and isinstance(am, FakeAcoustic)
    assert isinstance(voc, FakeVocoder)
    servers = [server for _, server in started]
    return FakeStages(fe, am, voc, servers)


def dead_addr() -> str:
    """An address nothing listens on (a port that was free a moment ago)."""
    return f"127.0.0.1:{free_port()}"
