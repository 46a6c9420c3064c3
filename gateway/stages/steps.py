"""The streaming steps one sentence runs through: acoustic, then vocoder.

Each step takes the sentence's shared :class:`SentenceRun` and the previous step's
output stream and returns its own, so the pipeline can chain them from a tuple.
Every step cancels its downstream call when it is closed early.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from gateway.stages.clients import AcousticClient, VocoderClient
from gateway.stages.deadline import Deadline
from gateway.stages.errors import StageError
from sambert_tts_protos.v1 import acoustic_service_pb2, audio_pb2, vocoder_service_pb2
from tts_common.audio import pcm16_from_bytes

__all__ = ["SentenceRun", "Step", "acoustic_step", "no_input", "vocoder_step"]


@dataclass
class SentenceRun:
    """What one sentence's steps share; the steps fill in the stage headers."""

    request: acoustic_service_pb2.StreamMelRequest
    """The acoustic request (symbols, voice, emotion, speaker, speed)."""
    deadline: Deadline
    """The caller's deadline."""
    request_id: str
    """Passed downstream as x-request-id."""
    sample_rate_hz: int
    """The rate the voice was listed at; the vocoder must agree."""
    acoustic: AcousticClient
    vocoder: VocoderClient
    mel_header: audio_pb2.MelHeader | None = None
    """Set by the acoustic step: the acoustic revision that made the mel."""
    vocode_header: vocoder_service_pb2.VocodeHeader | None = None
    """Set by the vocoder step: the vocoder revision that made the audio."""


Step = Callable[[SentenceRun, AsyncIterator[Any]], AsyncGenerator[Any, None]]
"""A step: (sentence, upstream items) -> its own items."""


async def no_input() -> AsyncGenerator[Any, None]:
    """The empty stream the first step is fed."""
    return
    yield  # makes this an async generator


async def acoustic_step(
    run: SentenceRun, _: AsyncIterator[Any]
) -> AsyncGenerator[Any, None]:
    """Symbols -> the MelHeader, then MelChunks as the decoder produces them."""
    stream = await run.acoustic.open(run.request, run.deadline, run.request_id)
    try:
        run.mel_header = stream.header
        yield stream.header
        async for chunk in stream.chunks():
            yield chunk
    finally:
        stream.cancel()


async def vocoder_step(
    run: SentenceRun, mel: AsyncIterator[Any]
) -> AsyncGenerator[Any, None]:
    """MelHeader + MelChunks -> int16 PCM arrays, forwarding mel as it arrives."""
    header = await anext(mel)
    config = vocoder_service_pb2.VocodeConfig(
        mel_header=header, pcm_format=audio_pb2.PCM_FORMAT_S16LE
    )
    voc = await run.vocoder.open(config, run.deadline, run.request_id)

    async def forward() -> None:
        try:
            async for chunk in mel:
                await voc.send(chunk)
            await voc.done_writing()
        except BaseException:
            voc.cancel()  # ends responses() below instead of waiting for more mel
            raise

    task = asyncio.create_task(forward())
    try:
        async for response in voc.responses():
            if response.HasField("header"):
                run.vocode_header = response.header
                _check_rate(run, response.header.sample_rate_hz)
            elif response.audio.pcm:
                yield pcm16_from_bytes(response.audio.pcm)
        await task
    except (StageError, asyncio.CancelledError):
        # forward() failing cancels the vocoder call, which surfaces here as a
        # cancellation; unless our own task is being cancelled, report the cause.
        me = asyncio.current_task()
        ours = me is not None and me.cancelling() == 0
        if ours and task.done() and not task.cancelled() and task.exception():
            raise task.exception() from None  # type: ignore[misc]
        raise
    finally:
        task.cancel()
        voc.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _check_rate(run: SentenceRun, rate: int) -> None:
    if rate and rate != run.sample_rate_hz:
        raise StageError(
            "FAILED_PRECONDITION",
            f"vocoder makes {rate} Hz for voice {run.request.voice!r} but it was "
            f"listed at {run.sample_rate_hz} Hz; the stages disagree",
        )
