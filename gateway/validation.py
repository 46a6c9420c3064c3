"""Request parsing for the gateway: undecodable messages and the request id.

The fields of a synthesis request are checked by
:meth:`gateway.options.SynthesisOptions.from_request`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError

from tts_common.errors import InvalidInput
from tts_common.interceptors import MAX_REQUEST_ID_CHARS, is_request_id
from tts_common.logging import current_request_id

__all__ = ["lenient", "parsed", "request_id_of"]


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


def request_id_of(given: str) -> str:
    """The request's own id when set (checked), else the x-request-id in effect.

    Raises:
        InvalidInput: The id is not 1 to 128 printable ASCII characters: it travels
            back in gRPC metadata, which takes nothing else.
    """
    if not given:
        return current_request_id() or ""
    if not is_request_id(given):
        raise InvalidInput(
            f"request_id must be 1 to {MAX_REQUEST_ID_CHARS} printable ASCII "
            "characters (space to ~)"
        )
    return given
