"""One typed, checked options object per synthesis request (:class:`SynthesisOptions`).

It is built once, by :meth:`SynthesisOptions.from_request`, from either request
message, and everything after the servicer reads it instead of the request. Which
request field reaches which cache key is declared here (:data:`FIELD_TO_KEY`,
:data:`FIELDS_OUTSIDE_CACHE_KEYS`); ``tests/unit/test_request_fields.py`` fails when a
field of either request message is in neither.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from gateway.cache import AnalysisKey, SentenceKey
from gateway.encoding import AudioEdge, resolve_encoding
from gateway.voices import VoiceCatalog, VoiceEntry
from sambert_tts_protos.v1 import audio_pb2, frontend_service_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.audio import check_codec_rate, default_sample_rate_hz
from tts_common.errors import InvalidInput
from tts_common.speed import check_speed, combined_speed

__all__ = ["FIELDS_OUTSIDE_CACHE_KEYS", "FIELD_TO_KEY", "SynthesisOptions"]

_Enc = audio_pb2.AudioEncoding
_Sentence = frontend_service_pb2.AnalyzedSentence
_RATE_RANGE_HZ = (8000, 48000)
_GAIN_RANGE_DB = (-30.0, 12.0)
PITCH_RANGE_SEMITONES = (-12.0, 12.0)
"""Pitch shifts the acoustic stage takes: request and SSML shifts added."""
MAX_LEXICON_ENTRIES = 100
_MAX_LEXICON_FIELD_CHARS = 64

FIELD_TO_KEY: Final[Mapping[str, tuple[type[AnalysisKey | SentenceKey], str]]] = {
    "text": (AnalysisKey, "text"),
    "ssml": (AnalysisKey, "ssml"),
    "voice": (AnalysisKey, "voice"),
    "emotion": (AnalysisKey, "emotion"),
    "speaker": (AnalysisKey, "speaker"),
    "speed": (SentenceKey, "speed"),
    "pitch_semitones": (SentenceKey, "pitch_semitones"),
    "lexicon": (AnalysisKey, "lexicon"),
}
"""Request fields that change the cached audio, and the key field that carries each
(the voice is in :class:`SentenceKey` too; emotion and speaker also reach it through
the analysed symbols)."""

FIELDS_OUTSIDE_CACHE_KEYS: Final[Mapping[str, str]] = {
    "volume_gain_db": "gain is applied at the edge, after the cache",
    "encoding": "cached PCM is encoded at the edge",
    "sample_rate_hz": "cached model-rate PCM is resampled at the edge",
    "no_cache": "decides whether the cache is used, not what it holds",
    "request_id": "only names the request in logs and replies",
    "enable_timings": "timings are computed from the symbol durations cached "
    "with the audio",
}
"""Request fields that do not change the cached audio, each with the reason."""


@dataclass(frozen=True)
class SynthesisOptions:
    """A synthesis request, checked: what the pipeline and the edge read."""

    text: str
    """The text to speak: plain, or an SSML document when ``ssml`` is set."""
    ssml: bool
    """``text`` is an SSML document with a ``<speak>`` root."""
    voice: VoiceEntry
    """The voice (the default one when the request left it empty), with revisions."""
    emotion: str
    """An emotion id the voice offers; empty = neutral."""
    speaker: str
    """A speaker id the voice offers; empty = the voice's default speaker."""
    speed: float
    """Speaking-rate multiplier within ``SPEED_RANGE`` (1.0 when the request said 0);
    each sentence's SSML rate multiplies it (:meth:`sentence_speed`)."""
    volume_gain_db: float
    """Output gain in dB, -30 to +12, applied at the edge (plus any SSML gain)."""
    encoding: audio_pb2.AudioEncoding
    """Encoding of the returned audio; never unspecified (that means PCM_S16LE)."""
    sample_rate_hz: int
    """Output rate in Hz; the voice's own rate when the request said 0."""
    use_cache: bool
    """False when the request set ``no_cache``: the cache is not read or written."""
    request_id: str
    """The request id in effect, echoed in replies and passed to every stage."""
    pitch_semitones: float = 0.0
    """Pitch shift in semitones; each sentence's SSML pitch adds to it."""
    enable_timings: bool = False
    """Return sentence, word, phone and mark timings."""
    lexicon: tuple[tuple[str, str], ...] = ()
    """Per-request pronunciations (word, tone-numbered pinyin), checked for size
    here and for content by the frontend."""

    @classmethod
    def from_request(
        cls,
        request: gw.SynthesizeRequest | gw.StreamSynthesizeRequest,
        catalog: VoiceCatalog,
        max_text_chars: int,
        request_id: str,
    ) -> SynthesisOptions:
        """Check every field of a synthesis request (either message) once.

        Args:
            request: The request as received.
            catalog: The voices the stages serve, and the frontend's text limit.
            max_text_chars: The gateway's own text limit, in code points.
            request_id: The id in effect, resolved by the servicer before anything
                else (:func:`gateway.validation.request_id_of`) so that errors carry
                it too.

        Raises:
            InvalidInput: A field is wrong; the message says how to fix it.
            VoiceNotFound: Unknown voice.
        """
        limit = min(max_text_chars, catalog.frontend_max_chars or math.inf)
        _check_text(request.text, limit)
        voice = catalog.resolve(request.voice)
        _check_choice("emotion", request.emotion, voice.emotions, voice.name)
        _check_choice("speaker", request.speaker, voice.speakers, voice.name)
        speed = check_speed(request.speed or 1.0, " (0 means 1.0)")
        gain = request.volume_gain_db
        if not _GAIN_RANGE_DB[0] <= gain <= _GAIN_RANGE_DB[1]:
            raise InvalidInput(f"volume_gain_db {gain} is out of range; use -30 to 12")
        rate = request.sample_rate_hz or default_sample_rate_hz(
            request.encoding, voice.sample_rate_hz
        )  # 0: the voice's rate; 8 kHz for mu-law and A-law
        _check_output(request.encoding, rate)
        pitch = check_pitch(request.pitch_semitones)
        return cls(
            text=request.text, ssml=request.ssml, voice=voice, emotion=request.emotion,
            speaker=request.speaker, speed=speed, volume_gain_db=gain,
            encoding=resolve_encoding(request.encoding), sample_rate_hz=rate,
            use_cache=not request.no_cache, request_id=request_id,
            pitch_semitones=pitch, enable_timings=request.enable_timings,
            lexicon=_check_lexicon(request.lexicon),
        )  # fmt: skip

    def audio_edge(self, *, streaming: bool) -> AudioEdge:
        """The edge that turns this request's model-rate PCM into its output."""
        rate_in, rate_out = self.voice.sample_rate_hz, self.sample_rate_hz
        return AudioEdge(self.encoding, rate_in, rate_out, streaming=streaming)

    def analysis_key(self) -> AnalysisKey:
        """The key of this request's analysis (text, options, frontend revision)."""
        return AnalysisKey(
            text=self.text, ssml=self.ssml, voice=self.voice.name,
            emotion=self.emotion, speaker=self.speaker,
            frontend_revision=self.voice.frontend_revision, lexicon=self.lexicon,
        )  # fmt: skip

    def sentence_speed(self, sentence: _Sentence) -> float:
        """The sentence's speed: ours times its SSML rate, refused out of range
        (the one rule, :func:`tts_common.speed.combined_speed`).

        Raises:
            InvalidInput: The product leaves the range; names both values.
        """
        return combined_speed(self.speed, sentence.extras.speed, sentence.index)

    def sentence_pitch(self, sentence: _Sentence) -> float:
        """The sentence's pitch shift: ours plus its SSML pitch, refused out of range.

        Raises:
            InvalidInput: The sum leaves the range; names both values.
        """
        total = self.pitch_semitones + sentence.extras.pitch_semitones
        if sentence.extras.pitch_semitones:
            low, high = PITCH_RANGE_SEMITONES
            if not low <= total <= high:
                raise InvalidInput(
                    f"sentence {sentence.index}: pitch_semitones "
                    f"{self.pitch_semitones:g} plus its SSML pitch "
                    f"{sentence.extras.pitch_semitones:+g} is {total:g}, out of range; "
                    f"keep the sum within {low:g} to {high:g}"
                )
        return total

    def check_speeds(self, sentences: Sequence[_Sentence]) -> None:
        """Refuse the request if any sentence's combined speed or pitch is out of
        range; the pipeline calls this after the analysis, before any sentence is
        synthesized.

        Raises:
            InvalidInput: The first sentence whose speed or pitch leaves the range.
        """
        for sentence in sentences:
            self.sentence_speed(sentence)
            self.sentence_pitch(sentence)

    def check_audio(
        self, sentences: Sequence[_Sentence], max_audio_s: float, symbol_s: float
    ) -> None:
        """Refuse the request if its sentences could make more than ``max_audio_s``
        seconds of audio: each sentence's symbols x ``symbol_s`` (an upper bound on a
        symbol's duration at speed 1.0) / its speed, plus its break. Called after the
        analysis, before any sentence is synthesized.

        Raises:
            InvalidInput: The estimate is over the limit; the message gives both.
        """
        estimate = sum(
            len(s.symbols.split()) * symbol_s / self.sentence_speed(s)
            + s.extras.break_after_ms / 1000
            for s in sentences
        )
        if estimate > max_audio_s:
            raise InvalidInput(
                f"the text could make up to {estimate:.0f} s of audio (breaks "
                f"included), over the limit of {max_audio_s:g} s per request; split "
                "it into several requests, or shorten its breaks"
            )

    def sentence_key(self, sentence: _Sentence) -> SentenceKey:
        """The cache key of one analysed sentence, with the catalog's revisions."""
        voice = self.voice
        return SentenceKey(
            voice=voice.name, acoustic_revision=voice.acoustic_revision,
            vocoder_revision=voice.vocoder_revision, symbols=sentence.symbols,
            emotion=sentence.emotion, speaker=sentence.speaker,
            speed=self.sentence_speed(sentence), sample_rate_hz=voice.sample_rate_hz,
            pitch_semitones=self.sentence_pitch(sentence),
            energy_shift=sentence.extras.energy_shift,
        )  # fmt: skip


def _check_text(text: str, limit: float) -> None:
    if not text.strip():
        raise InvalidInput(f"text is empty; send 1 to {limit} characters")
    if len(text) > limit:
        raise InvalidInput(
            f"text has {len(text)} characters, over the limit of {limit}; "
            "split it into several requests"
        )


def check_pitch(semitones: float) -> float:
    """A request's pitch shift, refused when not finite or out of range.

    Raises:
        InvalidInput: Names the range.
    """
    low, high = PITCH_RANGE_SEMITONES
    if not (math.isfinite(semitones) and low <= semitones <= high):
        raise InvalidInput(
            f"pitch_semitones {semitones:g} is out of range; use {low:g} to {high:g} "
            "(0 = the voice's own pitch)"
        )
    return float(semitones)


def _check_lexicon(
    entries: Sequence[audio_pb2.LexiconEntry],
) -> tuple[tuple[str, str], ...]:
    """Bound the per-request lexicon's size; the frontend checks the readings."""
    if len(entries) > MAX_LEXICON_ENTRIES:
        raise InvalidInput(
            f"lexicon has {len(entries)} entries, over the limit of "
            f"{MAX_LEXICON_ENTRIES}; send only the words this text needs"
        )
    out = []
    for i, entry in enumerate(entries):
        if not entry.word.strip() or not entry.pronunciation.strip():
            raise InvalidInput(f"lexicon[{i}] needs both a word and a pronunciation")
        longest = max(len(entry.word), len(entry.pronunciation))
        if longest > _MAX_LEXICON_FIELD_CHARS:
            raise InvalidInput(
                f"lexicon[{i}] is too long ({longest} characters); words and "
                f"pronunciations take at most {_MAX_LEXICON_FIELD_CHARS}"
            )
        out.append((entry.word, entry.pronunciation))
    return tuple(out)


def _check_choice(field: str, value: str, allowed: Sequence[str], voice: str) -> None:
    if value and value not in allowed:
        options = ", ".join(allowed) if allowed else "none"
        raise InvalidInput(
            f"{field} {value!r} is not offered by voice {voice!r}; "
            f"use one of: {options}, or leave it empty"
        )


def _check_output(encoding: int, rate: int) -> None:
    """Refuse encodings and rates the edge cannot produce, naming what it can."""
    if encoding not in _Enc.values():
        names = ", ".join(n.removeprefix("AUDIO_ENCODING_") for n in _Enc.keys()[1:])
        raise InvalidInput(f"encoding {encoding} is not supported; use one of {names}")
    if not _RATE_RANGE_HZ[0] <= rate <= _RATE_RANGE_HZ[1]:
        raise InvalidInput(
            f"sample_rate_hz {rate} is out of range; use 8000 to 48000, "
            "or 0 for the voice's rate"
        )
    check_codec_rate(resolve_encoding(encoding), rate)
