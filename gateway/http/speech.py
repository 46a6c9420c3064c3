"""``POST /v1/audio/speech`` bodies (OpenAI's fields plus ours) and output formats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gateway.http.errors import ApiError
from gateway.options import MAX_LEXICON_ENTRIES, PITCH_RANGE_SEMITONES
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.audio import (
    MP3_SAMPLE_RATES_HZ,
    OPUS_SAMPLE_RATES_HZ,
    TELEPHONY_RATE_HZ,
)
from tts_common.speed import SPEED_RANGE

__all__ = [
    "FORMATS",
    "MODELS",
    "OPENAI_SPEED_RANGE",
    "OutputFormat",
    "SpeechParams",
    "parse_speech",
]

PCM_RATE_HZ = 24000
"""OpenAI's ``pcm`` is 24 kHz 16-bit little-endian mono; clients assume that rate."""
_Enc = audio_pb2.AudioEncoding
MODELS: tuple[str, ...] = (
    "tts-1", "tts-1-hd", "tts-1-1106", "tts-1-hd-1106", "gpt-4o-mini-tts",
    "gpt-4o-mini-tts-2025-12-15", "sambert-hifigan",
)  # fmt: skip
"""``model`` values accepted (``/v1/models``): OpenAI's speech models and ours, all
the same pipeline and voices."""
OPENAI_SPEED_RANGE = (0.25, 4.0)
"""``speed`` accepted, as OpenAI's API; outside :data:`SPEED_RANGE` (what the voices
speak) it is clamped to that range's nearest end."""
_STREAM_FORMATS = ("audio", "sse")
_MAX_INSTRUCTIONS_CHARS = 4096


@dataclass(frozen=True)
class OutputFormat:
    """How one ``response_format`` is produced and labelled."""

    encoding: audio_pb2.AudioEncoding
    """The gateway's ``AudioEncoding``."""
    content_type: str
    """HTTP Content-Type of the response."""
    rates_hz: frozenset[int] | None = None
    """Rates the codec takes; None = any (the voice's own rate is kept)."""
    fixed_rate_hz: int = 0
    """A rate every response has, whatever the voice (``pcm``); 0 = none."""
    buffered: bool = False
    """Sent as one complete file with Content-Length (WAV, FLAC: their headers
    hold the length, known only at the end) instead of streamed chunks."""

    def sample_rate_for(self, voice_rate_hz: int) -> int:
        """The output rate for a voice: 0 keeps the voice's rate (no resampling)."""
        if self.fixed_rate_hz:
            return self.fixed_rate_hz
        if self.rates_hz is None or voice_rate_hz in self.rates_hz:
            return 0
        if not voice_rate_hz:  # voice unknown: the gateway answers NOT_FOUND anyway
            return PCM_RATE_HZ
        higher = [r for r in self.rates_hz if r >= voice_rate_hz]
        return min(higher) if higher else max(self.rates_hz)


FORMATS: dict[str, OutputFormat] = {
    "mp3": OutputFormat(_Enc.AUDIO_ENCODING_MP3, "audio/mpeg", MP3_SAMPLE_RATES_HZ),
    "opus": OutputFormat(_Enc.AUDIO_ENCODING_OGG_OPUS, "audio/ogg; codecs=opus",
                         OPUS_SAMPLE_RATES_HZ),
    "flac": OutputFormat(_Enc.AUDIO_ENCODING_FLAC, "audio/flac", buffered=True),
    "wav": OutputFormat(_Enc.AUDIO_ENCODING_WAV, "audio/wav", buffered=True),
    "pcm": OutputFormat(_Enc.AUDIO_ENCODING_PCM_S16LE, "audio/pcm",
                        fixed_rate_hz=PCM_RATE_HZ),
    # G.711 for telephony: headerless 8-bit, 8 kHz whatever the voice.
    "mulaw": OutputFormat(_Enc.AUDIO_ENCODING_MULAW, "audio/basic",
                          fixed_rate_hz=TELEPHONY_RATE_HZ),
    "alaw": OutputFormat(_Enc.AUDIO_ENCODING_ALAW, "audio/x-alaw-basic",
                         fixed_rate_hz=TELEPHONY_RATE_HZ),
}  # fmt: skip
"""Every ``response_format`` offered; OpenAI's ``aac`` is not (no encoder here)."""


@dataclass(frozen=True)
class SpeechParams:
    """A checked speech request."""

    text: str
    voice: str
    response_format: str
    speed: float
    """The speed spoken at: the request's, clamped to :data:`SPEED_RANGE`."""
    emotion: str = ""
    speaker: str = ""
    no_cache: bool = False
    instructions: str = ""
    """OpenAI's free-text voice instructions (read for an emotion)."""
    stream_format: str = "audio"
    """``audio`` (the encoded audio itself) or ``sse`` (OpenAI's events)."""
    pitch_semitones: float = 0.0
    """Pitch shift of the voice, within :data:`PITCH_RANGE_SEMITONES`."""
    lexicon: tuple[tuple[str, str], ...] = ()
    """(word, tone-numbered pinyin) pairs read as given, in the request's order."""
    timings: bool = False
    """Ask for sentence, word, phone and mark timings (sent as SSE events)."""

    @property
    def format(self) -> OutputFormat:
        return FORMATS[self.response_format]

    def to_request(self, voice_rate_hz: int) -> gw.StreamSynthesizeRequest:
        """The gateway request, at the output rate this format needs for the voice."""
        return gw.StreamSynthesizeRequest(
            text=self.text, voice=self.voice, emotion=self.emotion,
            speaker=self.speaker, speed=self.speed, encoding=self.format.encoding,
            sample_rate_hz=self.format.sample_rate_for(voice_rate_hz),
            no_cache=self.no_cache, pitch_semitones=self.pitch_semitones,
            enable_timings=self.timings,
            lexicon=[audio_pb2.LexiconEntry(word=w, pronunciation=p)
                     for w, p in self.lexicon],
        )  # fmt: skip


def _bad(message: str, code: str) -> ApiError:
    return ApiError(400, message, code)


def _string(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _bad(f"{name} must be a string", f"invalid_{name}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # JSON's "\ud800" escapes decode to lone surrogates
        raise _bad(
            f"{name} is not valid Unicode text (it has a lone surrogate escape)",
            f"invalid_{name}",
        ) from None
    return value


def _speed(body: dict[str, Any]) -> float:
    value = body.get("speed", 1.0)
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad("speed must be a number", "invalid_speed")
    low, high = SPEED_RANGE
    if not OPENAI_SPEED_RANGE[0] <= value <= OPENAI_SPEED_RANGE[1]:  # NaN too
        raise _bad(
            f"speed {_short(value)} is out of range: use {OPENAI_SPEED_RANGE[0]} to "
            f"{OPENAI_SPEED_RANGE[1]} (the voices speak {low} to {high}; a speed "
            "outside that is clamped to it, see X-Speed-Applied)",
            "invalid_speed",
        )
    return min(max(float(value), low), high)


def _voice(body: dict[str, Any]) -> str:
    """``voice`` as a name, or as the SDK's ``{"id": name}`` object."""
    value = body.get("voice")
    if isinstance(value, dict):
        if not isinstance(value.get("id"), str) or not value["id"]:
            raise _bad('voice must be a name or an object {"id": name}',
                       "invalid_voice")  # fmt: skip
        return _string({"voice": value["id"]}, "voice").strip()
    if value is not None and not isinstance(value, str):
        raise _bad('voice must be a name or an object {"id": name}', "invalid_voice")
    return _string(body, "voice").strip()


def _model(body: dict[str, Any]) -> None:
    name = _string(body, "model")
    if name and name not in MODELS:
        raise ApiError(404, f"model {_short(name)!r} not found; use one of "
                       f"{', '.join(MODELS)} (see /v1/models): all of them speak "
                       "with this server's voices", "model_not_found")  # fmt: skip


def _pitch(body: dict[str, Any]) -> float:
    value = body.get("pitch_semitones", 0.0)
    if value is None:
        return 0.0
    low, high = PITCH_RANGE_SEMITONES
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"pitch_semitones must be a number of semitones, {low:g} to "
                   f"{high:g}", "invalid_pitch_semitones")  # fmt: skip
    if not (math.isfinite(value) and low <= value <= high):
        raise _bad(f"pitch_semitones {_short(value)} is out of range: use {low:g} "
                   f"to {high:g} (0 = the voice's own pitch)",
                   "invalid_pitch_semitones")  # fmt: skip
    return float(value)


_LEXICON_SHAPE = (
    'lexicon must be an object {"word": "pinyin", ...} or a list of '
    '{"word": ..., "pronunciation": ...} objects, with tone-numbered pinyin '
    '("chong2 qing4")'
)


def _lexicon(body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """``lexicon`` as ``{word: reading}`` or as a list of the gRPC API's
    ``{"word", "pronunciation"}`` entries: (word, reading) pairs in the order given.
    Only the shape and size are checked here; the frontend checks each reading (a
    bad one is its 400 naming ``lexicon[i]``, in this order)."""
    value = body.get("lexicon")
    if value is None:
        return ()
    if not isinstance(value, dict | list):
        raise _bad(_LEXICON_SHAPE, "invalid_lexicon")
    if len(value) > MAX_LEXICON_ENTRIES:
        raise _bad(f"lexicon has {len(value)} entries, over the limit of "
                   f"{MAX_LEXICON_ENTRIES}; send only the words this text needs",
                   "invalid_lexicon")  # fmt: skip
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        pairs = [_lexicon_item(i, item) for i, item in enumerate(value)]
    out = []
    for i, (word, reading) in enumerate(pairs):
        if not isinstance(reading, str):
            raise _bad(f"lexicon[{i}] ({_short(word)!r}): the pronunciation must be "
                       'a string of tone-numbered pinyin ("chong2 qing4")',
                       "invalid_lexicon")  # fmt: skip
        word = _string({"lexicon": word}, "lexicon").strip()
        reading = _string({"lexicon": reading}, "lexicon").strip()
        if not word or not reading:
            raise _bad(f"lexicon[{i}] needs both a word and a pronunciation",
                       "invalid_lexicon")  # fmt: skip
        out.append((word, reading))
    return tuple(out)


def _lexicon_item(i: int, item: object) -> tuple[object, object]:
    if (
        not isinstance(item, dict)
        or set(item) != {"word", "pronunciation"}
        or not isinstance(item["word"], str)
    ):
        raise _bad(f"lexicon[{i}] is not a {{\"word\", \"pronunciation\"}} object; "
                   + _LEXICON_SHAPE, "invalid_lexicon")  # fmt: skip
    return item["word"], item["pronunciation"]


def _short(value: object) -> str:
    text = str(value)  # an int of 400 digits is still a JSON number
    return text if len(text) <= 24 else text[:20] + "..."


def parse_speech(body: Any) -> SpeechParams:
    """Check an OpenAI speech body (``input``, ``model``, ``voice`` as a name or
    ``{"id": name}``, ``instructions``, ``response_format``, ``speed``,
    ``stream_format``) plus our ``emotion``, ``speaker``, ``no_cache``,
    ``pitch_semitones``, ``lexicon`` and ``timings``. Voice aliases and
    ``instructions`` are settled later, against the gateway's voices
    (:func:`gateway.http.openai_compat.resolve_speech`); whether ``timings`` can be
    sent depends on the endpoint (``POST`` needs ``stream_format: "sse"``).

    Raises:
        ApiError: 400, with a message naming the field and what to send; 404 for
            a ``model`` not in :data:`MODELS`.
    """
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object", "invalid_body")
    text = _string(body, "input")
    if not text.strip():
        raise _bad("input is missing or empty; send the text to speak", "missing_input")
    _model(body)  # every model listed is the same pipeline
    fmt = _string(body, "response_format", "mp3") or "mp3"
    if fmt not in FORMATS:
        raise _bad(f"response_format {fmt!r} is not supported; use one of "
                   f"{', '.join(FORMATS)}", "unsupported_response_format")  # fmt: skip
    stream_format = _string(body, "stream_format", "audio") or "audio"
    if stream_format not in _STREAM_FORMATS:
        raise _bad(f"stream_format {_short(stream_format)!r} is not supported; use "
                   "'audio' (the audio itself) or 'sse' (server-sent events)",
                   "unsupported_stream_format")  # fmt: skip
    instructions = _string(body, "instructions")
    if len(instructions) > _MAX_INSTRUCTIONS_CHARS:
        raise _bad(f"instructions has {len(instructions)} characters, over the "
                   f"limit of {_MAX_INSTRUCTIONS_CHARS}", "invalid_instructions")  # fmt: skip
    no_cache = _flag(body, "no_cache")
    return SpeechParams(
        text=text, voice=_voice(body), response_format=fmt,
        speed=_speed(body), emotion=_string(body, "emotion"),
        speaker=_string(body, "speaker"), no_cache=no_cache,
        instructions=instructions, stream_format=stream_format,
        pitch_semitones=_pitch(body), lexicon=_lexicon(body),
        timings=_flag(body, "timings"),
    )  # fmt: skip


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(f"{name} must be true or false", f"invalid_{name}")
    return value
