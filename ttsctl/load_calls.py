"""One streamed request of a load run, against the gateway or one stage alone.

Each driver returns a :class:`StreamResult`: its status, time to first audio, the
audio it delivered and its stalls. A *stall* is what a player would hear: playback
starts with the first audio, and whenever the next chunk arrives after the audio
received so far has run out, playback stops for that long.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from sambert_tts_protos.v1 import (
    acoustic_service_pb2,
    audio_pb2,
    gateway_service_pb2,
    vocoder_service_pb2,
)
from tts_common.audio import encode_mel

__all__ = ["Player", "StageVoice", "StreamResult", "acoustic_call", "gateway_call",
           "vocoder_call"]  # fmt: skip

_PCM = audio_pb2.AUDIO_ENCODING_PCM_S16LE
SECONDS_PER_CHAR = 0.22
"""Audio a Chinese character makes at speed 1 (the demo voice measured 0.2-0.25 s):
sizes the synthetic mel of the vocoder-only bench."""
MEL_CHUNK_FRAMES = 12
"""Frames per mel chunk sent to a vocoder alone: the acoustic stage's default
(4 decoder steps of 3 frames)."""


@dataclass(frozen=True)
class StreamResult:
    """One request of the load."""

    code: str
    started_s: float
    """When it started (``time.monotonic()``)."""
    elapsed_s: float
    first_audio_s: float | None
    audio_s: float
    """Audio delivered (a failed stream: until it failed)."""
    max_stall_s: float
    stalls: int
    complete: bool
    """The stream ended with its last chunk."""
    retry_after_s: float = 0.0
    """A refusal's ``retry-after-ms``, in seconds."""


class Player:
    """A player fed by a stream: plays from the first audio on, stalls when the
    audio runs out before the next chunk."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.first: float | None = None
        self.audio_s = self.max_stall_s = 0.0
        self.stalls = 0
        self._runs_out = 0.0

    def arrived(self, seconds: float, now: float | None = None) -> None:
        """``seconds`` of audio arrived ``now``."""
        if seconds <= 0:
            return
        now = time.monotonic() if now is None else now
        if self.first is None:
            self.first, self._runs_out = now - self.start, now
        elif now > self._runs_out:
            gap = now - self._runs_out
            self.stalls += 1
            self.max_stall_s = max(self.max_stall_s, gap)
            self._runs_out = now
        self._runs_out += seconds
        self.audio_s += seconds

    def result(
        self, code: str, complete: bool, retry_after_s: float = 0.0
    ) -> StreamResult:
        return StreamResult(
            code, self.start, time.monotonic() - self.start, self.first,
            self.audio_s, self.max_stall_s, self.stalls, complete, retry_after_s,
        )  # fmt: skip


async def _drive(
    player: Player, stream: AsyncIterator[Any], audio_of: Callable[[Any], float]
) -> StreamResult:
    """Read ``stream`` to its end, feeding the player; the status is the result."""
    complete = False
    try:
        async for message in stream:
            seconds, last = audio_of(message), _is_last(message)
            player.arrived(seconds)
            complete = complete or last
    except grpc.aio.AioRpcError as exc:
        retry = dict(exc.trailing_metadata() or ()).get("retry-after-ms")
        return player.result(exc.code().name, False, int(retry) / 1000 if retry else 0)
    return player.result("OK", complete)


def _is_last(message: Any) -> bool:
    kind = message.WhichOneof("content")
    if kind == "chunk":
        chunk = message.chunk
        return bool(getattr(chunk, "last_in_stream", getattr(chunk, "last", False)))
    return bool(kind == "audio" and message.audio.last)


async def gateway_call(
    stub: Any, text: str, *, no_cache: bool, timeout_s: float
) -> StreamResult:
    """One StreamSynthesize call (PCM at the voice's rate)."""
    player = Player(time.monotonic())
    request = gateway_service_pb2.StreamSynthesizeRequest(
        text=text, encoding=_PCM, no_cache=no_cache
    )
    rate = [0]

    def audio_of(message: Any) -> float:
        if message.HasField("header"):
            rate[0] = message.header.sample_rate_hz
            return 0.0
        return len(message.chunk.audio) / 2.0 / max(rate[0], 1)

    return await _drive(
        player, stub.StreamSynthesize(request, timeout=timeout_s), audio_of
    )


@dataclass(frozen=True)
class StageVoice:
    """What a stage bench needs of a voice (from the stage's GetModelInfo)."""

    name: str
    sample_rate_hz: int
    num_mels: int
    hop_length: int


async def acoustic_call(
    stub: Any, voice: StageVoice, symbols: str, *, timeout_s: float
) -> StreamResult:
    """One StreamMel call; its "audio" is the mel's duration."""
    player = Player(time.monotonic())
    frame_s = voice.hop_length / voice.sample_rate_hz

    def audio_of(message: Any) -> float:
        if message.HasField("header"):
            return 0.0
        return float(message.chunk.mel.num_frames) * frame_s

    request = acoustic_service_pb2.StreamMelRequest(symbols=symbols, voice=voice.name)
    return await _drive(player, stub.StreamMel(request, timeout=timeout_s), audio_of)


def synthetic_mel(voice: StageVoice, chars: int, seed: int) -> np.ndarray:
    """A log-mel of the length ``chars`` characters make (vocoder cost depends on
    the length, not the content)."""
    frames = max(1, round(chars * SECONDS_PER_CHAR * voice.sample_rate_hz
                          / voice.hop_length))  # fmt: skip
    rng = np.random.default_rng(seed)
    return rng.normal(-5.0, 2.0, (frames, voice.num_mels)).astype(np.float32)


async def vocoder_call(
    stub: Any, voice: StageVoice, mel: np.ndarray, *, timeout_s: float
) -> StreamResult:
    """One StreamVocode call, the mel sent in acoustic-sized chunks at once."""
    player = Player(time.monotonic())
    header = audio_pb2.MelHeader(
        voice=voice.name, num_mels=voice.num_mels, hop_length=voice.hop_length,
        sample_rate_hz=voice.sample_rate_hz, num_frames=len(mel),
    )  # fmt: skip

    def requests() -> Any:
        yield vocoder_service_pb2.StreamVocodeRequest(
            config=vocoder_service_pb2.VocodeConfig(
                mel_header=header, pcm_format=audio_pb2.PCM_FORMAT_S16LE
            )
        )
        for index, start in enumerate(range(0, len(mel), MEL_CHUNK_FRAMES)):
            block = mel[start : start + MEL_CHUNK_FRAMES]
            last = start + MEL_CHUNK_FRAMES >= len(mel)
            chunk = audio_pb2.MelChunk(
                mel=encode_mel(block), chunk_index=index, start_frame=start, last=last
            )
            yield vocoder_service_pb2.StreamVocodeRequest(mel=chunk)

    def audio_of(message: Any) -> float:
        if message.HasField("header"):
            return 0.0
        return float(message.audio.num_samples) / voice.sample_rate_hz

    return await _drive(
        player, stub.StreamVocode(requests(), timeout=timeout_s), audio_of
    )
