"""Request checks for the gateway: parse errors, fields, output format."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf.message import DecodeError
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw

from gateway.encoding import resolve_encoding
from gateway.voices import VoiceCatalog, VoiceEntry
from tts_common.audio import MP3_SAMPLE_RATES_HZ, OPUS_SAMPLE_RATES_HZ
from tts_common.errors import InvalidInput
from tts_common.logging import current_request_id

__all__ = ["lenient", "parsed", "request_id_of", "validate_synthesis"]

_Enc = audio_pb2.AudioEncoding
_RATE_RANGE_HZ = (8000, 48000)
_SPEED_RANGE = (0.5, 2.0)
_GAIN_RANGE_DB = (-30.0, 12.0)
_MAX_REQUEST_ID_CHARS = 128


class _Undecodable:
    """Stands in for a request the protobuf parser rejected (e.g. bad UTF-8)."""

    def __init__(self, error: str) -> None:
        self.error = error


def lenient(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """A deserializer that never raises: gRPC would answer a raising one with an
    opaque INTERNAL/UNKNOWN, where the caller needs INVALID_ARGUMENT and a hint."""

    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as exc:
            return _Undecodable(str(exc))

    return deserialize


def parsed(request: Any) -> Any:
    """The request, or INVALID_ARGUMENT if :func:`lenient` could not parse it.

    Raises:
        InvalidInput: The bytes were not a valid message (e.g. bad UTF-8).
    """
    if isinstance(request, _Undecodable):
        raise InvalidInput(
            "request could not be parsed: string fields such as text, voice and "
            "emotion must be valid UTF-8; check the client's encoding"
        )
    return request


def validate_synthesis(
    request: gw.SynthesizeRequest | gw.StreamSynthesizeRequest,
    catalog: VoiceCatalog,
    max_text_chars: int,
) -> tuple[VoiceEntry, float]:
    """Check every field of a synthesis request.

    Returns:
        The voice and the resolved speed (1.0 when the request said 0).

    Raises:
        InvalidInput: A field is wrong; the message says how to fix it.
        VoiceNotFound: Unknown voice.
    """
    text = request.text
    limit = min(max_text_chars, catalog.frontend_max_chars or math.inf)
    if not text.strip():
        raise InvalidInput(f"text is empty; send 1 to {limit} characters")
    if len(text) > limit:
        raise InvalidInput(
            f"text has {len(text)} characters, over the limit of {limit}; "
            "split it into several requests"
        )
    voice = catalog.resolve(request.voice)
    _check_choice("emotion", request.emotion, voice.emotions, voice.name)
    _check_choice("speaker", request.speaker, voice.speakers, voice.name)
    speed = request.speed or 1.0
    if not _SPEED_RANGE[0] <= speed <= _SPEED_RANGE[1]:  # also refuses NaN
        raise InvalidInput(
            f"speed {request.speed} is out of range; use 0.5 to 2.0 (0 means 1.0)"
        )
    if not _GAIN_RANGE_DB[0] <= request.volume_gain_db <= _GAIN_RANGE_DB[1]:
        raise InvalidInput(
            f"volume_gain_db {request.volume_gain_db} is out of range; use -30 to 12"
        )
    _check_output(request.encoding, request.sample_rate_hz or voice.sample_rate_hz)
    return voice, speed


def request_id_of(given: str) -> str:
    """The request's own id when set (checked), else the x-request-id in effect."""
    if not given:
        return current_request_id() or ""
    if len(given) > _MAX_REQUEST_ID_CHARS or not given.isprintable():
        raise InvalidInput("request_id must be 1 to 128 printable characters")
    return given


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
    codecs: dict[int, frozenset[int]] = {
        _Enc.AUDIO_ENCODING_OGG_OPUS: OPUS_SAMPLE_RATES_HZ,
        _Enc.AUDIO_ENCODING_MP3: MP3_SAMPLE_RATES_HZ,
    }
    allowed = codecs.get(resolve_encoding(encoding))
    if allowed is not None and rate not in allowed:
        rates = ", ".join(str(r) for r in sorted(allowed))
        name = _Enc.Name(encoding).removeprefix("AUDIO_ENCODING_")
        raise InvalidInput(
            f"{name} cannot encode {rate} Hz; set sample_rate_hz to one of {rates}"
        )
