"""Per-request orchestration: analyze once, then sentences through the stage chain.

The chain each sentence runs is data (:data:`SENTENCE_STEPS`), as in a Triton
ensemble: after a cache lookup, the acoustic step streams the mel header and chunks,
and the vocoder step forwards each chunk into its stream as it arrives and yields
PCM as it comes back. A few sentences run at once (``sentences_in_flight``), so
sentence N+1 is in the acoustic stage while N is vocoded; their audio is handed on
strictly in order. A sentence whose stream breaks mid-way is re-run on another
replica without repeating or losing samples (:mod:`gateway.stages.failover`).
Closing the output (the caller left, or failed) cancels every sentence task, and
each step cancels its downstream call on the way out. The analysis may come from
the cache (:mod:`gateway.cache.analysis`); each sentence is looked up, and a miss
joins the key's singleflight (:mod:`gateway.cache.singleflight`): it waits
for a concurrent synthesis of the same key, or synthesizes and commits once
complete; nothing is committed for a sentence that failed or was cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateway.admission import Admission, RequestSlot, work_units
from gateway.cache import (
    AnalysisCache,
    CachedSentence,
    Flight,
    PhraseCache,
    ReportCounters,
    SentenceKey,
    resolve,
)
from gateway.options import SynthesisOptions
from gateway.stages import (
    AcousticClient,
    Deadline,
    FailoverPolicy,
    FrontendClient,
    SentenceRun,
    Step,
    VocoderClient,
    acoustic_step,
    no_input,
    resumed,
    vocoder_step,
)
from gateway.timings import SymbolDurations
from sambert_tts_protos.v1 import (
    acoustic_service_pb2,
    audio_pb2,
    frontend_service_pb2,
    gateway_service_pb2,
)
from tts_common.audio import Int16Array, pcm16_from_bytes, pcm16_to_bytes
from tts_common.errors import NOTHING_TO_SPEAK, InvalidInput

__all__ = ["SENTENCE_STEPS", "Pipeline", "SentencePiece", "SynthesisJob"]

_LOGGER = logging.getLogger(__name__)

SENTENCE_STEPS: tuple[Step, ...] = (acoustic_step, vocoder_step)
"""The chain a sentence that missed the cache runs, each step fed by the previous."""

_Emit = Callable[["SentencePiece"], None]
_DEADLINE_SLACK_S = 0.1
"""A request that ended this close to its deadline ran out of time."""


@dataclass(frozen=True)
class SynthesisJob:
    """One request's run through the pipeline: what was asked, and until when."""

    options: SynthesisOptions
    """The checked request."""
    deadline: Deadline
    """The caller's deadline (else the gateway's default), for every stage call."""
    deadline_s: float = 0.0
    """That deadline's length in seconds when the request came in (for messages)."""


@dataclass(frozen=True)
class SentencePiece:
    """Model-rate PCM of one sentence, handed out in order."""

    index: int
    pcm: Int16Array
    gain_db: float
    """Request gain plus the sentence's own (SSML), applied at the edge."""
    info: gateway_service_pb2.SentenceInfo | None = None
    """Set on the sentence's last piece only."""
    cached: bool = False
    """The PCM came from the cache (for the time-to-first-audio metric)."""
    sentence: frontend_service_pb2.AnalyzedSentence | None = None
    """Set with ``info``: the analysed sentence (symbols, words, marks)."""
    durations: SymbolDurations | None = None
    """Set with ``info`` when known: how long each symbol lasts, for timings."""


class Pipeline:
    """Runs requests through the stages; one object serves every request."""

    def __init__(
        self,
        frontend: FrontendClient,
        acoustic: AcousticClient,
        vocoder: VocoderClient,
        cache: PhraseCache,
        counters: ReportCounters,
        sentences_in_flight: int,
        steps: Sequence[Step] = SENTENCE_STEPS,
        failover: FailoverPolicy | None = None,
        admission: Admission | None = None,
    ) -> None:
        """Wire the clients, the cache, the concurrency limit, mid-stream
        failover (two re-runs per sentence, uncounted, when None) and whole-request
        admission (a generous default when None)."""
        self.frontend, self.acoustic, self.vocoder = frontend, acoustic, vocoder
        self._cache, self._counters = cache, counters
        self._analyses = AnalysisCache(cache)
        self._flights: dict[asyncio.Task[Any], Flight] = {}
        self._detached: set[asyncio.Task[None]] = set()
        self._in_flight = sentences_in_flight
        self._steps = tuple(steps)
        self._failover = failover or FailoverPolicy()
        self.admission = admission or Admission(slots=16, max_waiting=64)

    async def analyze(self, job: SynthesisJob) -> frontend_service_pb2.AnalyzeResponse:
        """Split and analyze the text: from the cache, else one frontend call.
        Every sentence's speed (with its SSML rate) is checked here, before any
        audio is made.

        Raises:
            StageError: The frontend's status (e.g. bad SSML), passed through.
            InvalidInput: The text has nothing to speak, or a sentence's combined
                speed is out of range.
            Overloaded: ``no_cache`` and the gateway is past capacity.
        """
        opts = job.options
        if not opts.use_cache:  # it will need the models: refuse before any work
            self.admission.precheck(job.deadline.remaining(), len(opts.text))
        request = frontend_service_pb2.AnalyzeRequest(
            text=opts.text, voice=opts.voice.name, emotion=opts.emotion,
            speaker=opts.speaker, ssml=opts.ssml,
            lexicon=[
                audio_pb2.LexiconEntry(word=word, pronunciation=reading)
                for word, reading in opts.lexicon
            ],
        )  # fmt: skip

        async def fetch() -> frontend_service_pb2.AnalyzeResponse:
            analysis = await self.frontend.analyze(
                request, job.deadline, opts.request_id
            )
            if not analysis.sentences:
                raise InvalidInput(f"{NOTHING_TO_SPEAK}; send words, not only marks")
            return analysis

        if opts.use_cache:
            analysis = await self._analyses.get(opts.analysis_key(), fetch)
        else:
            analysis = await fetch()
        opts.check_speeds(analysis.sentences)
        return analysis

    async def pieces(
        self, job: SynthesisJob, analysis: frontend_service_pb2.AnalyzeResponse
    ) -> AsyncGenerator[SentencePiece, None]:
        """Every sentence's PCM in order, with ``sentences_in_flight`` running ahead."""
        sentences = list(analysis.sentences)
        queues: list[asyncio.Queue[SentencePiece | Exception]] = [
            asyncio.Queue() for _ in sentences
        ]
        tasks: list[asyncio.Task[None]] = []
        units = {
            s.index: work_units(s.symbols, job.options.sentence_speed(s))
            for s in sentences
        }
        self.admission.observe_text(len(job.options.text), sum(units.values()))
        slot = RequestSlot(self.admission, units)
        completed = False

        def start(i: int) -> None:
            if i < len(sentences):
                coro = self._produce(
                    job, analysis.revision, sentences[i], queues[i], slot
                )
                tasks.append(asyncio.create_task(coro))

        try:
            for i in range(self._in_flight):
                start(i)
            for i in range(len(sentences)):
                while True:
                    item = await queues[i].get()
                    if isinstance(item, Exception):
                        raise item
                    yield item
                    if item.info is not None:
                        break
                start(i + self._in_flight)
            completed = True
        finally:
            # How it ended tells admission what its busy time meant: running out
            # of time says the work was slow; a stage that failed, or a caller
            # that left, says nothing about speed.
            outcome = (
                "completed" if completed
                else "slow" if job.deadline.remaining() < _DEADLINE_SLACK_S
                else "wasted"
            )  # fmt: skip
            stopped, detached = [], []
            for task in tasks:
                flight = self._flights.get(task)
                if flight is not None and flight.awaited and not task.done():
                    # Others wait for this sentence: let it finish and commit.
                    self._detached.add(task)
                    task.add_done_callback(self._detached.discard)
                    detached.append(task)
                else:
                    task.cancel()
                    stopped.append(task)
            await asyncio.gather(*stopped, return_exceptions=True)
            _release_after(slot, outcome, detached)

    async def _produce(
        self,
        job: SynthesisJob,
        frontend_revision: str,
        sentence: frontend_service_pb2.AnalyzedSentence,
        queue: asyncio.Queue[SentencePiece | Exception],
        slot: RequestSlot,
    ) -> None:
        """Run one sentence into ``queue``; a failure goes in as the last item."""
        try:
            await self._sentence(
                job, frontend_revision, sentence, queue.put_nowait, slot
            )
        except Exception as exc:
            queue.put_nowait(exc)

    async def _sentence(
        self,
        job: SynthesisJob,
        frontend_revision: str,
        sentence: frontend_service_pb2.AnalyzedSentence,
        emit: _Emit,
        slot: RequestSlot,
    ) -> None:
        """Cache lookup, else (with the request's admission slot) the step chain;
        then the break and the SentenceInfo."""
        gain = job.options.volume_gain_db + sentence.extras.volume_gain_db
        voice = job.options.voice
        key = job.options.sentence_key(sentence)
        info = gateway_service_pb2.SentenceInfo(
            index=sentence.index,
            normalized_text=sentence.normalized_text,
            revisions=voice.revisions(),
        )
        info.revisions.frontend = frontend_revision
        cached, flight = None, None
        if job.options.use_cache and self._cache.enabled:
            # A concurrent synthesis of this sentence was admitted to finish in
            # time: waiting for it as long as we may beats adding our own.
            wait_s = job.deadline.remaining()
            cached, flight = await resolve(
                self._cache, self._counters, key, sentence.normalized_text, wait_s
            )
        if cached is not None:
            pcm = pcm16_from_bytes(cached.pcm)
            emit(SentencePiece(sentence.index, pcm, gain, cached=True))
            samples, info.cached = pcm.size, True
            durations = SymbolDurations.of(cached.symbol_frames, cached.hop_length)
        else:
            task = asyncio.current_task()
            if flight is not None and task is not None:
                self._flights[task] = flight  # see pieces(): awaited work goes on
            try:
                await slot.acquire(sentence.index, job.deadline.remaining())
                samples, durations = await self._synthesize(
                    job, key, info, gain, emit, flight
                )
                slot.finished(sentence.index)
            except BaseException:
                if flight is not None:
                    flight.abandon()  # nothing stored; a waiter takes over
                raise
            finally:
                if task is not None:
                    self._flights.pop(task, None)
        rate = voice.sample_rate_hz
        pause = np.zeros(rate * sentence.extras.break_after_ms // 1000, np.int16)
        info.duration_ms = round((samples + pause.size) * 1000 / rate)
        emit(SentencePiece(
            sentence.index, pause, gain, info, sentence=sentence, durations=durations
        ))  # fmt: skip

    async def _synthesize(
        self,
        job: SynthesisJob,
        key: SentenceKey,
        info: gateway_service_pb2.SentenceInfo,
        gain: float,
        emit: _Emit,
        flight: Flight | None,
    ) -> tuple[int, SymbolDurations | None]:
        """Run the step chain, emitting PCM as it comes; commit it when complete
        (through ``flight``, which also wakes whoever waits for this key).

        Returns:
            The number of samples made, and the symbols' durations when the
            acoustic stage sent them.
        """
        started = time.perf_counter()
        request = acoustic_service_pb2.StreamMelRequest(
            symbols=key.symbols, voice=key.voice, emotion=key.emotion,
            speaker=key.speaker, speed=key.speed, pitch_semitones=key.pitch_semitones,
            energy_shift=key.energy_shift,
        )  # fmt: skip
        run = SentenceRun(
            request, job.deadline, job.options.request_id, key.sample_rate_hz,
            self.acoustic, self.vocoder,
        )  # fmt: skip
        parts: list[Int16Array] = []

        def chain() -> AsyncGenerator[Int16Array, None]:
            stream = no_input()
            for step in self._steps:
                stream = step(run, stream)
            return stream

        # Only what reaches the caller is kept, so after a failover ``parts`` is
        # still the sentence exactly once: the cache gets all of it or nothing.
        stream = resumed(chain, run, self._failover, info.index)
        async with contextlib.aclosing(stream) as chunks:
            async for pcm in chunks:
                parts.append(pcm)
                emit(SentencePiece(info.index, pcm, gain))
        # Key and info carry the revisions that really made the audio: a stage may
        # have been redeployed since the voice catalog was read.
        if run.mel_header is not None and run.mel_header.revision:
            info.revisions.acoustic = run.mel_header.revision
        if run.vocode_header is not None and run.vocode_header.revision:
            info.revisions.vocoder = run.vocode_header.revision
        audio = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        header = run.mel_header
        durations = None
        if header is not None:
            durations = SymbolDurations.of(header.symbol_frames, header.hop_length)
        if flight is not None:
            revs = info.revisions
            actual = dataclasses.replace(
                key, acoustic_revision=revs.acoustic, vocoder_revision=revs.vocoder
            )
            elapsed = time.perf_counter() - started
            frames, hop = (
                (durations.frames, durations.hop_length) if durations else ((), 0)
            )
            entry = CachedSentence(pcm16_to_bytes(audio), elapsed, frames, hop)
            await flight.finish(actual, entry)
            # What the lookups cost: the report prices it per 1,000 requests.
            self._counters.record(key.voice, "made", compute_s=elapsed)
        return int(audio.size), durations


def _release_after(
    slot: RequestSlot, outcome: str, detached: Sequence[asyncio.Task[None]]
) -> None:
    """Free the request's admission slot now, or once the sentences it left
    running for others (see :meth:`Pipeline.pieces`) are done."""
    if not detached:
        slot.release(outcome)
        return
    pending = set(detached)

    def done(task: asyncio.Task[None]) -> None:
        pending.discard(task)
        if not pending:
            slot.release("wasted")

    for task in detached:
        task.add_done_callback(done)
