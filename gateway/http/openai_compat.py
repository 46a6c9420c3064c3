"""OpenAI drop-in pieces of the bridge: a speech request's voice and emotion settled
(aliases are :mod:`gateway.http.voice_aliases`, ``instructions``
:mod:`gateway.http.instructions`), ``/v1/models``, and the response headers that say
what was done with a request's speed and instructions (``stream_format="sse"`` is
:mod:`gateway.http.sse`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Protocol

from aiohttp import web

from gateway.http.errors import ApiError
from gateway.http.instructions import emotion_from_instructions
from gateway.http.speech import MODELS, SpeechParams
from gateway.http.voice_aliases import VoiceAlias, VoiceAliases
from sambert_tts_protos.v1 import gateway_service_pb2 as gw

__all__ = [
    "SPEECH_HEADERS",
    "ResolvedSpeech",
    "VoiceLister",
    "add_speech_headers",
    "get_model",
    "list_models",
    "resolve_speech",
]


# --- resolving a request against the gateway's voices ------------------------------


class VoiceLister(Protocol):
    """What :func:`resolve_speech` needs of the bridge's gateway client."""

    async def voices(
        self, fresh: bool = False, api_key: str | None = None
    ) -> gw.ListVoicesResponse: ...


@dataclass(frozen=True)
class ResolvedSpeech:
    """A speech request with its voice and emotion settled."""

    params: SpeechParams
    """With ``voice`` a real voice name and ``emotion`` the one to speak with."""
    sample_rate_hz: int
    """The voice's native rate."""
    headers: dict[str, str]
    """Response headers telling what was applied (``X-Speed-Applied``, ...)."""


async def resolve_speech(
    params: SpeechParams,
    client: VoiceLister,
    api_key: str | None,
    aliases: VoiceAliases,
) -> ResolvedSpeech:
    """Settle the voice (a real name, an alias, or empty for the default) and the
    emotion: the request's ``emotion`` if given, else one its ``instructions`` name
    and the voice offers, else the alias's.

    Raises:
        ApiError: 404 for an unknown voice (listing voices and aliases), 400 for an
            alias whose emotion its voice lacks.
        grpc.RpcError: The gateway's voice list could not be had.
    """
    entry, alias = None, None
    for fresh in (False, True):  # a voice deployed since the list was cached
        reply = await client.voices(fresh, api_key)
        entry, alias = _find_voice(reply, params.voice, aliases)
        if entry is not None:
            break
    if entry is None:
        raise _voice_not_found(reply, params.voice, alias, aliases)
    offered = tuple(entry.emotions) or ("neutral",)  # none listed: neutral only
    named = emotion_from_instructions(params.instructions, offered)
    emotion = params.emotion or named or ""
    if not emotion and alias is not None and alias.emotion:
        if alias.emotion not in offered:
            raise ApiError(
                400,
                f"voice {params.voice!r} is an alias for {alias.describe()}, but "
                f"voice {entry.name!r} has no emotion {alias.emotion!r} (it has "
                f"{', '.join(offered)}); fix the server's HTTP_VOICE_ALIASES, or "
                "send an emotion",
                "invalid_voice_alias",
            )
        emotion = alias.emotion
    headers = {"X-Speed-Applied": f"{params.speed:g}"}
    if params.instructions:
        used = named is not None and named == emotion
        headers["X-Instructions-Ignored"] = "false" if used else "true"
    if emotion:
        headers["X-Emotion-Applied"] = emotion
    wire_emotion = emotion if entry.emotions else ""  # neutral-only voices take ""
    resolved = replace(params, voice=entry.name, emotion=wire_emotion)
    return ResolvedSpeech(resolved, int(entry.sample_rate_hz), headers)


def _find_voice(
    reply: gw.ListVoicesResponse, name: str, aliases: VoiceAliases
) -> tuple[gw.Voice | None, VoiceAlias | None]:
    by_name = {v.name: v for v in reply.voices}
    if not name or name in by_name:
        return by_name.get(name or reply.default_voice), None
    alias = aliases.get(name)
    if alias is None:
        return None, None
    return by_name.get(alias.voice or reply.default_voice), alias


def _voice_not_found(
    reply: gw.ListVoicesResponse,
    name: str,
    alias: VoiceAlias | None,
    aliases: VoiceAliases,
) -> ApiError:
    known = ", ".join(sorted(v.name for v in reply.voices)) or "none"
    if alias is not None:
        message = (
            f"voice {name!r} is an alias for voice {alias.voice!r}, which this "
            f"server does not have (the server's HTTP_VOICE_ALIASES needs fixing); "
            f"available voices: {known}"
        )
    else:
        message = (
            f"voice {name!r} not found; available voices: {known}; or an alias: "
            f"{', '.join(aliases.names)} (see /v1/voices)"
        )
    return ApiError(404, message, "not_found")


# --- response headers --------------------------------------------------------------

SPEECH_HEADERS = web.RequestKey("openai_speech_headers", dict)
"""Headers a speech handler leaves on its request for :func:`add_speech_headers`."""


async def add_speech_headers(
    request: web.Request, response: web.StreamResponse
) -> None:
    """``on_response_prepare``: put the request's speech headers on a successful
    response, whichever code path writes it."""
    headers = request.get(SPEECH_HEADERS)
    if headers and response.status < 400:
        response.headers.update(headers)


# --- /v1/models --------------------------------------------------------------------

_CREATED = int(time.time())
"""``created`` of every model: when this bridge started."""


def _model(name: str) -> dict[str, object]:
    return {
        "id": name,
        "object": "model",
        "created": _CREATED,
        "owned_by": "sambert-tts",
    }


async def list_models(request: web.Request) -> web.Response:
    """``GET /v1/models``: the model names speech accepts (one pipeline behind all)."""
    return web.json_response({"object": "list", "data": [_model(m) for m in MODELS]})


async def get_model(request: web.Request) -> web.Response:
    """``GET /v1/models/{model}``: one of them, or 404."""
    name = request.match_info["model"]
    if name not in MODELS:
        raise ApiError(404, f"model {name!r} not found; this server offers "
                       f"{', '.join(MODELS)} (see /v1/models)",
                       "model_not_found")  # fmt: skip
    return web.json_response(_model(name))
