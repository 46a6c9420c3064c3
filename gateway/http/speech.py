"""``POST /v1/audio/speech`` bodies (OpenAI's fields plus ours) and output formats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.http.errors import ApiError
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.audio import MP3_SAMPLE_RATES_HZ, OPUS_SAMPLE_RATES_HZ
from tts_common.speed import SPEED_RANGE, in_speed_range

__all__ = ["FORMATS", "OutputFormat", "SpeechParams", "parse_speech"]

PCM_RATE_HZ = 24000
"""OpenAI's ``pcm`` is 24 kHz 16-bit little-endian mono; clients assume that rate."""
_Enc = audio_pb2.AudioEncoding


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
    "flac": OutputFormat(_Enc.AUDIO_ENCODING_FLAC, "audio/flac"),
    "wav": OutputFormat(_Enc.AUDIO_ENCODING_WAV, "audio/wav"),
    "pcm": OutputFormat(_Enc.AUDIO_ENCODING_PCM_S16LE, "audio/pcm",
                        fixed_rate_hz=PCM_RATE_HZ),
}  # fmt: skip
"""Every ``response_format`` offered; OpenAI's ``aac`` is not (no encoder here)."""


@dataclass(frozen=True)
class SpeechParams:
    """A checked speech request."""

    text: str
    voice: str
    response_format: str
    speed: float
    emotion: str = ""
    speaker: str = ""
    no_cache: bool = False

    @property
    def format(self) -> OutputFormat:
        return FORMATS[self.response_format]

    def to_request(self, voice_rate_hz: int) -> gw.StreamSynthesizeRequest:
        """The gateway request, at the output rate this format needs for the voice."""
        return gw.StreamSynthesizeRequest(
            text=self.text, voice=self.voice, emotion=self.emotion,
            speaker=self.speaker, speed=self.speed, encoding=self.format.encoding,
            sample_rate_hz=self.format.sample_rate_for(voice_rate_hz),
            no_cache=self.no_cache,
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
    if not in_speed_range(value):  # the gateway's range; OpenAI allows 0.25 to 4
        low, high = SPEED_RANGE
        raise _bad(
            f"speed {_short(value)} is out of range: this server takes {low} to "
            f"{high} (OpenAI's 0.25 to 4.0 is wider than its voices allow)",
            "invalid_speed",
        )
    return float(value)


def _short(value: object) -> str:
    text = str(value)  # an int of 400 digits is still a JSON number
    return text if len(text) <= 24 else text[:20] + "..."


def parse_speech(body: Any) -> SpeechParams:
    """Check an OpenAI speech body (``input``, ``voice``, ``response_format``,
    ``speed``; ``model`` and ``instructions`` accepted and ignored) plus our
    ``emotion``, ``speaker`` and ``no_cache``.

    Raises:
        ApiError: 400, with a message naming the field and what to send.
    """
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object", "invalid_body")
    text = _string(body, "input")
    if not text.strip():
        raise _bad("input is missing or empty; send the text to speak", "missing_input")
    _string(body, "model")  # any model name: there is one pipeline
    fmt = _string(body, "response_format", "mp3") or "mp3"
    if fmt not in FORMATS:
        raise _bad(f"response_format {fmt!r} is not supported; use one of "
                   f"{', '.join(FORMATS)}", "unsupported_response_format")  # fmt: skip
    if _string(body, "stream_format", "audio") not in ("audio", ""):
        raise _bad("stream_format must be 'audio' (SSE is not offered)",
                   "unsupported_stream_format")  # fmt: skip
    no_cache = body.get("no_cache", False)
    if not isinstance(no_cache, bool):
        raise _bad("no_cache must be true or false", "invalid_no_cache")
    return SpeechParams(
        text=text, voice=_string(body, "voice"), response_format=fmt,
        speed=_speed(body), emotion=_string(body, "emotion"),
        speaker=_string(body, "speaker"), no_cache=no_cache,
    )  # fmt: skip
