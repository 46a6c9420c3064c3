"""OpenAI drop-in pieces without sockets: voice aliases, instructions read for an
emotion, the voice object form, speed clamping, models and SSE event shapes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.http.config import HttpConfig
from gateway.http.errors import ApiError
from gateway.http.instructions import emotion_from_instructions
from gateway.http.openai_compat import resolve_speech
from gateway.http.speech import MODELS, parse_speech
from gateway.http.sse import sse_event
from gateway.http.voice_aliases import OPENAI_VOICES, VoiceAlias, VoiceAliases
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.config import ConfigError

_ALL = ("neutral", "happy", "sad", "angry", "surprise", "fear", "disgust", "calm")


# --- aliases -----------------------------------------------------------------------


def test_every_openai_voice_is_the_default_voice_unless_configured() -> None:
    aliases = VoiceAliases.from_env({}, "HTTP_")
    assert set(aliases.names) == set(OPENAI_VOICES) >= {
        "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage",
        "shimmer", "verse",
    }  # fmt: skip
    assert all(aliases.get(n) == VoiceAlias("", "") for n in OPENAI_VOICES)
    assert HttpConfig.from_env({}).voice_aliases == aliases


def test_aliases_from_the_file_then_the_variable(tmp_path: Path) -> None:
    """File entries (YAML or JSON, either form) then inline ones; the later wins,
    the OpenAI names not mentioned stay, names match without case."""
    path = tmp_path / "aliases.yaml"
    path.write_text(
        "aliases:\n"
        "  alloy: {voice: zhitian_emo, emotion: happy}\n"
        "  echo: 'zhizhe_emo:sad'\n"
        "  Narrator: zhiyan_emo\n"
    )
    env = {
        "HTTP_VOICE_ALIASES_FILE": str(path),
        "HTTP_VOICE_ALIASES": "echo=zhibei_emo, nova=:angry",
    }
    aliases = HttpConfig.from_env(env).voice_aliases
    assert aliases.get("ALLOY") == VoiceAlias("zhitian_emo", "happy")
    assert aliases.get("echo") == VoiceAlias("zhibei_emo", "")
    assert aliases.get("nova") == VoiceAlias("", "angry")
    assert aliases.get("narrator") == VoiceAlias("zhiyan_emo", "")
    assert aliases.get("ash") == VoiceAlias()
    assert aliases.to_dict("dflt")["ash"] == {"voice": "dflt", "emotion": "neutral"}
    json_path = tmp_path / "aliases.json"
    json_path.write_text(json.dumps({"aliases": {"sage": {"voice": "v"}}}))
    got = VoiceAliases.from_env({"HTTP_VOICE_ALIASES_FILE": str(json_path)}, "HTTP_")
    assert got.get("sage") == VoiceAlias("v", "")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"HTTP_VOICE_ALIASES": "alloy"}, "HTTP_VOICE_ALIASES: entries are alias="),
        ({"HTTP_VOICE_ALIASES": "alloy=v:giddy"}, "emotion 'giddy', which no voice"),
        ({"HTTP_VOICE_ALIASES": "a b=v"}, "alias name 'a b' must be"),
        ({"HTTP_VOICE_ALIASES_FILE": "/nonexistent/x.yaml"}, "cannot read"),
    ],
)
def test_bad_alias_settings_name_the_variable(
    env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        HttpConfig.from_env(env)


@pytest.mark.parametrize(
    "text",
    ["aliases: [alloy]", "alloy: v", "aliases: {alloy: {voice: v, pitch: 3}}",
     "aliases: {alloy: 5}", "aliases: {alloy: {voice: [v]}}", "{{{"],
)  # fmt: skip
def test_bad_alias_files_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="HTTP_VOICE_ALIASES_FILE"):
        HttpConfig.from_env({"HTTP_VOICE_ALIASES_FILE": str(path)})


# --- instructions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "emotion"),
    [
        ("Speak in a cheerful and positive tone.", "happy"),
        ("Sound SAD, like bad news.", "sad"),
        ("Voice: angry and loud", "angry"),
        ("用开心的语气说", "happy"),
        ("请用悲伤的语气朗读", "sad"),
        ("有点生气", "angry"),
        ("惊讶地说", "surprise"),
        ("Don't sound sad; be happy", "happy"),
        ("not angry, just calm", "calm"),
        ("他不开心", None),
        ("Speak like a pirate", None),
        ("", None),
        ("Speak calmly, then happily", "calm"),  # the first one named
        ("neutral please", "neutral"),
    ],
)
def test_instructions_name_an_emotion(text: str, emotion: str | None) -> None:
    assert emotion_from_instructions(text, _ALL) == emotion


def test_only_emotions_the_voice_offers_count() -> None:
    assert emotion_from_instructions("happy", ("neutral",)) is None
    assert (
        emotion_from_instructions("happy or else calm", ("neutral", "calm")) == "calm"
    )


# --- body checks -------------------------------------------------------------------


def test_voice_object_form_and_new_fields() -> None:
    params = parse_speech({
        "input": "你好", "voice": {"id": "alloy"}, "model": "gpt-4o-mini-tts",
        "instructions": "happy", "stream_format": "sse", "speed": 0.25,
    })  # fmt: skip
    assert (params.voice, params.instructions, params.stream_format) == (
        "alloy", "happy", "sse",
    )  # fmt: skip
    assert params.speed == 0.5 and parse_speech({"input": "a"}).stream_format == "audio"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"voice": {"name": "alloy"}}, 400, "invalid_voice"),
        ({"voice": {"id": ""}}, 400, "invalid_voice"),
        ({"voice": {"id": 3}}, 400, "invalid_voice"),
        ({"voice": ["alloy"]}, 400, "invalid_voice"),
        ({"voice": {"id": "\ud800"}}, 400, "invalid_voice"),
        ({"instructions": 5}, 400, "invalid_instructions"),
        ({"instructions": "x" * 4097}, 400, "invalid_instructions"),
        ({"model": "whisper-1"}, 404, "model_not_found"),
        ({"stream_format": "ws"}, 400, "unsupported_stream_format"),
    ],
)
def test_bad_openai_fields(body: dict[str, Any], status: int, code: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_speech({"input": "a", **body})
    assert (err.value.status, err.value.code) == (status, code)
    assert err.value.message


def test_every_listed_model_is_accepted() -> None:
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= set(MODELS)
    for model in MODELS:
        assert parse_speech({"input": "a", "model": model}).text == "a"


# --- resolving against the gateway's voices ----------------------------------------


class _Client:
    """The one GatewayClient call resolve_speech makes."""

    def __init__(self, reply: gw.ListVoicesResponse) -> None:
        self.reply, self.calls = reply, 0

    async def voices(
        self, fresh: bool = False, api_key: str | None = None
    ) -> gw.ListVoicesResponse:
        self.calls += 1
        return self.reply


_VOICES = gw.ListVoicesResponse(
    voices=[
        gw.Voice(name="emo", emotions=list(_ALL), sample_rate_hz=16000),
        gw.Voice(name="plain", emotions=["neutral"], sample_rate_hz=22050),
    ],
    default_voice="plain",
)
_ALIASES = VoiceAliases({**VoiceAliases().aliases, "nova": VoiceAlias("emo", "happy"),
                         "bad": VoiceAlias("gone"), "odd": VoiceAlias("plain", "sad")})  # fmt: skip


async def _resolve(**body: Any) -> Any:
    client: Any = _Client(_VOICES)
    return await resolve_speech(parse_speech({"input": "a", **body}), client, None,
                                _ALIASES)  # fmt: skip


async def test_aliases_resolve_to_voice_and_emotion() -> None:
    got = await _resolve(voice="alloy")
    assert (got.params.voice, got.params.emotion, got.sample_rate_hz) == (
        "plain", "", 22050,
    )  # fmt: skip
    got = await _resolve(voice={"id": "Nova"})
    assert (got.params.voice, got.params.emotion, got.sample_rate_hz) == (
        "emo", "happy", 16000,
    )  # fmt: skip
    assert got.headers == {"X-Speed-Applied": "1", "X-Emotion-Applied": "happy"}
    got = await _resolve(voice="nova", emotion="sad")  # the request's own wins
    assert got.params.emotion == "sad"
    assert (await _resolve(voice="emo")).params.voice == "emo"
    assert (await _resolve()).params.voice == "plain"


async def test_instructions_pick_the_emotion_or_are_reported_ignored() -> None:
    got = await _resolve(voice="emo", instructions="用生气的语气")
    assert got.params.emotion == "angry"
    assert got.headers["X-Instructions-Ignored"] == "false"
    got = await _resolve(voice="nova", instructions="sound sad")  # over the alias's
    assert got.params.emotion == "sad"
    got = await _resolve(voice="plain", instructions="sound sad")  # no sad there
    assert got.params.emotion == "" and got.headers["X-Instructions-Ignored"] == "true"
    got = await _resolve(voice="emo", instructions="like a pirate", speed=4.0)
    assert got.headers == {"X-Speed-Applied": "2", "X-Instructions-Ignored": "true"}
    got = await _resolve(voice="emo", emotion="fear", instructions="happy")
    assert got.params.emotion == "fear"
    assert got.headers["X-Instructions-Ignored"] == "true"


async def test_unknown_voices_are_404_with_the_names() -> None:
    with pytest.raises(ApiError) as err:
        await _resolve(voice="nobody")
    assert (err.value.status, err.value.code) == (404, "not_found")
    assert "available voices: emo, plain; or an alias: alloy, ash" in err.value.message
    with pytest.raises(ApiError) as err:
        await _resolve(voice="bad")
    assert err.value.status == 404
    assert "alias for voice 'gone', which this server does not have" in (
        err.value.message
    )
    with pytest.raises(ApiError) as err:
        await _resolve(voice="odd")
    assert (err.value.status, err.value.code) == (400, "invalid_voice_alias")
    assert "has no emotion 'sad' (it has neutral)" in err.value.message


# --- SSE ---------------------------------------------------------------------------


def test_sse_events_are_openai_s_shape() -> None:
    event = sse_event({"type": "speech.audio.delta", "audio": "AAE="})
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    body = json.loads(event[len(b"data: ") :])
    assert body == {"type": "speech.audio.delta", "audio": "AAE="}
    assert base64.b64decode(body["audio"]) == b"\x00\x01"
