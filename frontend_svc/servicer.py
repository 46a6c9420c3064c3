"""FrontendService: text or SSML in, sentences with KAN-TTS symbols out (no torch)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import queue
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

import grpc

from frontend_svc.budget import SPOKEN_CHARS_PER_CHAR, Budget
from frontend_svc.lexicon import Lexicon
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import frontend_service_pb2 as pb
from sambert_tts_protos.v1 import frontend_service_pb2_grpc as pb_grpc
from tts_common.errors import NOTHING_TO_SPEAK, InvalidInput, VoiceNotFound
from tts_common.executor import BoundedExecutor

__all__ = ["MAX_LEXICON_ENTRIES", "FrontendServicer", "Sentence", "TextFrontend"]

_LOGGER = logging.getLogger(__name__)
_SSML_START = ("<speak", "<?xml")
_MIN_GAIN_DB = -96.0  # below the 16-bit noise floor: what "silent" comes to
MAX_LEXICON_ENTRIES = 100
"""Most entries of a per-request lexicon (the gateway's limit too)."""


class Sentence(Protocol):
    """What the servicer reads from one analyzed sentence."""

    text: str
    symbols: str
    break_after_ms: int
    pause_after_ms: int
    rate: float
    volume: float
    emotion: str | None
    pitch_semitones: float
    energy_shift: float

    @property
    def words(self) -> Sequence[tuple[str, int, int]]:
        """(text, first symbol, symbol count) of each spoken word."""
        ...

    @property
    def marks(self) -> Sequence[tuple[str, int]]:
        """(name, symbol index) of each SSML mark."""
        ...


class TextFrontend(Protocol):
    """The frontend as the servicer uses it: ``frontend_svc.Frontend`` fits."""

    def analyze(
        self,
        text: str,
        emotion: str | None = None,
        speaker: str | None = None,
        lexicon: Mapping[str, str] | None = None,
        *,
        budget: Budget | None = None,
        english: bool = True,
    ) -> Sequence[Sentence]:
        """Normalize and split ``text`` (``lexicon``: word -> "pin1 yin1" for this
        call), checking ``budget`` between pieces of work; raise InvalidInput on bad
        input. ``english``: the voice has English phones (Latin words read in
        English, else spelled with Mandarin letter names)."""
        ...


class FrontendServicer(pb_grpc.FrontendServiceServicer):  # type: ignore[misc,unused-ignore]
    """Runs the text frontend in the bounded executor, one frontend copy per worker.

    ``Frontend`` is not thread-safe, so each job borrows a copy from a pool as large
    as the executor's worker count: no job ever waits for a copy.
    """

    def __init__(
        self,
        frontends: Sequence[TextFrontend],
        executor: BoundedExecutor,
        *,
        revision: str,
        max_text_chars: int,
        voices: Sequence[audio_pb2.VoiceInfo] = (),
        no_english: Collection[str] = (),
    ) -> None:
        """Create the servicer.

        Args:
            frontends: At least ``executor.max_workers`` frontend copies.
            executor: Runs the analyses.
            revision: The frontend revision reported with every answer.
            max_text_chars: Longest text accepted, in code points.
            voices: Voices served, default first (see
                :meth:`FrontendConfig.voice_infos`); empty = accept any voice name.
            no_english: Voices whose phone inventory lacks the English phones
                (:meth:`FrontendConfig.voices_without_english`): their Latin words
                are spelled with Mandarin letter names.

        Raises:
            ValueError: Fewer frontends than executor workers.
        """
        if len(frontends) < executor.max_workers:
            raise ValueError("need one frontend per executor worker")
        self._pool: queue.SimpleQueue[TextFrontend] = queue.SimpleQueue()
        for frontend in frontends:
            self._pool.put(frontend)
        self._executor = executor
        self._revision = revision
        self._max_chars = max_text_chars
        self._voices = {v.name: v for v in voices}
        self._no_english = frozenset(no_english)

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Add this servicer to ``server``; returns the service's full name."""
        pb_grpc.add_FrontendServiceServicer_to_server(self, server)  # type: ignore[no-untyped-call,unused-ignore]
        return [pb.DESCRIPTOR.services_by_name["FrontendService"].full_name]

    async def warm_up(self) -> None:
        """Analyze one short sentence, so the first request pays no set-up."""
        sentences = await self._executor.submit(
            self._analyze, "你好。", None, None, None, None
        )
        _LOGGER.info("warmed up: %s sentence(s)", len(sentences))

    async def Analyze(  # noqa: N802  (gRPC method name)
        self, request: pb.AnalyzeRequest, context: grpc.aio.ServicerContext
    ) -> pb.AnalyzeResponse:
        """The sentences of the text, each with its symbols and prosody extras."""
        text = request.text
        if not text.strip():
            raise InvalidInput(f"text is empty; send 1 to {self._max_chars} characters")
        if len(text) > self._max_chars:
            raise InvalidInput(
                f"text has {len(text)} characters; the limit is {self._max_chars}: "
                "split it into several requests"
            )
        if text.lstrip().startswith(_SSML_START) != request.ssml:
            raise InvalidInput(
                "ssml is set but text has no <speak> root"
                if request.ssml
                else "text looks like SSML; set ssml to true to use it"
            )
        voice = self._voice(request.voice, request.emotion, request.speaker)
        lexicon = _lexicon(request.lexicon)
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        _LOGGER.debug("analyze %s chars, sha256 %s", len(text), digest)
        limit = SPOKEN_CHARS_PER_CHAR * self._max_chars
        budget = Budget.within(limit, context.time_remaining())
        emotion, speaker = request.emotion or None, request.speaker or None
        try:
            # Admission: refused at once when the queue cannot finish it in time.
            sentences = await self._executor.submit_within(
                context.time_remaining(),
                self._analyze,
                text,
                emotion,
                speaker,
                lexicon,
                budget,
                voice not in self._no_english,
            )
        except asyncio.CancelledError:  # caller gone: stop at the next check
            budget.stop()
            raise
        if not sentences:
            raise InvalidInput(f"{NOTHING_TO_SPEAK}; send words, not symbols")
        out = [_sentence(i, s, request.speaker) for i, s in enumerate(sentences)]
        return pb.AnalyzeResponse(sentences=out, voice=voice, revision=self._revision)

    async def GetModelInfo(  # noqa: N802  (gRPC method name)
        self,
        request: pb.FrontendServiceGetModelInfoRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.FrontendServiceGetModelInfoResponse:
        """The frontend's revision, text limit and voices."""
        rev = self._revision
        voices = [
            audio_pb2.VoiceInfo(
                name=v.name, revision=rev, emotions=v.emotions, speakers=v.speakers
            )
            for v in self._voices.values()
        ]
        return pb.FrontendServiceGetModelInfoResponse(
            voices=voices, revision=rev, max_text_chars=self._max_chars
        )

    def _voice(self, name: str, emotion: str, speaker: str) -> str:
        """The served voice name (default when empty), checking emotion and speaker."""
        if not self._voices:
            return name  # no model dir: symbols do not depend on the voice
        spec = self._voices.get(name or next(iter(self._voices)))
        if spec is None:
            raise VoiceNotFound(
                f"voice {name[:64]!r} is not served here; "
                f"available: {', '.join(self._voices)}"
            )
        for kind, value, allowed in (
            ("emotion", emotion, spec.emotions),
            ("speaker", speaker, spec.speakers),
        ):
            if value and allowed and value not in allowed:
                raise InvalidInput(
                    f"voice {spec.name} has no {kind} {value[:40]!r}; "
                    f"use one of {', '.join(allowed)}"
                )
        return spec.name

    def _analyze(
        self,
        text: str,
        emotion: str | None,
        speaker: str | None,
        lexicon: Mapping[str, str] | None,
        budget: Budget | None,
        english: bool = True,
    ) -> Sequence[Sentence]:
        """Borrow a frontend copy for one analysis (runs in a worker thread)."""
        frontend = self._pool.get_nowait()
        try:
            return frontend.analyze(
                text, emotion, speaker, lexicon, budget=budget, english=english
            )
        finally:
            self._pool.put(frontend)


def _lexicon(entries: Sequence[audio_pb2.LexiconEntry]) -> dict[str, str] | None:
    """The request's lexicon as ``{word: reading}``, each entry checked.

    Raises:
        InvalidInput: Too many entries, or one that is malformed or repeats a word
            (the message names the entry).
    """
    if len(entries) > MAX_LEXICON_ENTRIES:
        raise InvalidInput(
            f"lexicon has {len(entries)} entries; at most {MAX_LEXICON_ENTRIES}: "
            "send only the words this text needs"
        )
    out: dict[str, str] = {}
    first: dict[str, int] = {}
    for i, entry in enumerate(entries):
        word, reading = entry.word.strip(), entry.pronunciation.strip()
        if word in first:
            raise InvalidInput(
                f"lexicon[{i}] repeats the word {word[:32]!r} of lexicon[{first[word]}]; "
                "give each word one reading"
            )
        try:
            Lexicon.from_mapping({word: reading})
        except ValueError as exc:
            raise InvalidInput(f"lexicon[{i}] ({word[:32]!r}): {exc}") from None
        out[word], first[word] = reading, i
    return out or None


def _sentence(index: int, sentence: Sentence, speaker: str) -> pb.AnalyzedSentence:
    """One sentence on the wire.

    ``emotion`` and ``speaker`` stay empty where the defaults were used, so passing
    them on to the acoustic stage keeps the symbols exactly as written.
    """
    gain_db = 20 * math.log10(sentence.volume) if sentence.volume > 0 else _MIN_GAIN_DB
    return pb.AnalyzedSentence(
        index=index,
        normalized_text=sentence.text,
        symbols=sentence.symbols,
        emotion=sentence.emotion or "",
        speaker=speaker,
        extras=pb.SentenceExtras(
            # The SSML breaks and the natural pause: both are silence after it.
            break_after_ms=sentence.break_after_ms + sentence.pause_after_ms,
            speed=sentence.rate,
            volume_gain_db=max(gain_db, _MIN_GAIN_DB),
            pitch_semitones=sentence.pitch_semitones,
            energy_shift=sentence.energy_shift,
        ),
        words=[
            audio_pb2.WordSpan(text=text, first_symbol=first, num_symbols=count)
            for text, first, count in sentence.words
        ],
        marks=[
            audio_pb2.MarkPosition(name=name, symbol_index=index)
            for name, index in sentence.marks
        ],
    )
