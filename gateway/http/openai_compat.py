"""OpenAI drop-in pieces of the bridge: voice aliases (``alloy`` -> a voice and an
emotion), ``instructions`` read for an emotion, ``/v1/models``, and the response
headers that say what was done with a request's speed and instructions
(``stream_format="sse"`` is :mod:`gateway.http.sse`)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import yaml
from aiohttp import web

from gateway.http.errors import ApiError
from gateway.http.speech import MODELS, SpeechParams
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.config import ConfigError
from tts_common.symbols import EMOTIONS

__all__ = [
    "OPENAI_VOICES",
    "SPEECH_HEADERS",
    "ResolvedSpeech",
    "VoiceAlias",
    "VoiceAliases",
    "VoiceLister",
    "add_speech_headers",
    "emotion_from_instructions",
    "get_model",
    "list_models",
    "resolve_speech",
]

_LOGGER = logging.getLogger(__name__)

OPENAI_VOICES: tuple[str, ...] = (
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova",
    "onyx", "sage", "shimmer", "verse",
)  # fmt: skip
"""OpenAI's built-in voice names (the SDK's list); each is an alias here."""
_EMOTION_IDS = frozenset(
    e.removeprefix("emotion_")
    for e in EMOTIONS
    if e != "emotion_none" and "placeholder" not in e
)
_ALIAS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV_ALIASES, _ENV_FILE = "VOICE_ALIASES", "VOICE_ALIASES_FILE"


# --- voice aliases -----------------------------------------------------------------


@dataclass(frozen=True)
class VoiceAlias:
    """What an alias such as ``alloy`` speaks with."""

    voice: str = ""
    """A voice name from ``/v1/voices``; empty = the gateway's default voice."""
    emotion: str = ""
    """An emotion id of that voice; empty = neutral."""

    def describe(self) -> str:
        """``voice[:emotion]`` as configured (``(default)`` for the default voice)."""
        voice = self.voice or "(default voice)"
        return f"{voice}:{self.emotion}" if self.emotion else voice


@dataclass(frozen=True)
class VoiceAliases:
    """Alias name -> voice and emotion. Every OpenAI voice name is one: the default
    voice, neutral, unless configured otherwise; configured names may add more.
    Names match without regard to case; a real voice's name always wins."""

    aliases: Mapping[str, VoiceAlias] = field(
        default_factory=lambda: {name: VoiceAlias() for name in OPENAI_VOICES}
    )
    """By lower-case name."""

    def get(self, name: str) -> VoiceAlias | None:
        return self.aliases.get(name.lower())

    @property
    def names(self) -> list[str]:
        return sorted(self.aliases)

    def to_dict(self, default_voice: str) -> dict[str, dict[str, str]]:
        """For ``/v1/voices``: each alias's voice (the default filled in) and
        emotion (``neutral`` when none is set)."""
        return {name: {"voice": a.voice or default_voice,
                       "emotion": a.emotion or "neutral"}
                for name, a in sorted(self.aliases.items())}  # fmt: skip

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str) -> VoiceAliases:
        """The defaults, then the file ``<prefix>VOICE_ALIASES_FILE`` (YAML or JSON:
        ``aliases: {alloy: {voice: V, emotion: E}, echo: "V:E"}``), then the
        comma-separated ``<prefix>VOICE_ALIASES`` (``alloy=V:E,echo=V``); a later
        entry for the same name wins.

        Raises:
            ConfigError: The file cannot be read or an entry is malformed; the
                message names the variable.
        """
        merged = dict(cls().aliases)
        path = environ.get(f"{prefix}{_ENV_FILE}", "").strip()
        if path:
            source = f"{prefix}{_ENV_FILE}"
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeError) as exc:
                raise ConfigError(f"{source}: cannot read {path!r} ({exc})") from None
            merged.update(_file_entries(text, source))
        inline = environ.get(f"{prefix}{_ENV_ALIASES}", "").strip()
        if inline:
            merged.update(_inline_entries(inline, f"{prefix}{_ENV_ALIASES}"))
        return cls(merged)


def _inline_entries(raw: str, source: str) -> Iterator[tuple[str, VoiceAlias]]:
    for item in raw.split(","):
        name, sep, target = item.strip().partition("=")
        if not sep:
            raise ConfigError(
                f"{source}: entries are alias=voice[:emotion] (an empty voice is the "
                f"default voice), comma-separated; got {item.strip()!r}"
            )
        voice, _, emotion = target.strip().partition(":")
        yield _checked_alias(name.strip(), voice.strip(), emotion.strip(), source)


def _file_entries(text: str, source: str) -> Iterator[tuple[str, VoiceAlias]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"{source}: not valid YAML or JSON") from None
    entries = data.get("aliases") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(
            f"{source}: expected 'aliases:' mapping each alias to "
            "{voice: V, emotion: E} or to 'V:E'"
        )
    for name, target in entries.items():
        pair = _file_target(target)
        if pair is None:
            raise ConfigError(
                f"{source}: alias {name!r} must map to {{voice: V, emotion: E}} "
                "or to 'V:E'"
            )
        yield _checked_alias(str(name), pair[0].strip(), pair[1].strip(), source)


def _file_target(target: object) -> tuple[str, str] | None:
    """(voice, emotion) of one file entry, None when malformed."""
    if isinstance(target, str):
        voice, _, emotion = target.partition(":")
        return voice, emotion
    if isinstance(target, dict) and set(target) <= {"voice", "emotion"}:
        voice, emotion = target.get("voice") or "", target.get("emotion") or ""
        if isinstance(voice, str) and isinstance(emotion, str):
            return voice, emotion
    return None


def _checked_alias(
    name: str, voice: str, emotion: str, source: str
) -> tuple[str, VoiceAlias]:
    if not _ALIAS_NAME.fullmatch(name):
        raise ConfigError(
            f"{source}: alias name {name!r} must be 1 to 64 letters, digits, '_', "
            "'.' or '-'"
        )
    if emotion and emotion not in _EMOTION_IDS:
        raise ConfigError(
            f"{source}: alias {name!r} names emotion {emotion!r}, which no voice "
            f"has; use one of {', '.join(sorted(_EMOTION_IDS))}"
        )
    return name.lower(), VoiceAlias(voice, emotion)


# --- instructions -> emotion -------------------------------------------------------

_WORDS: dict[str, tuple[str, ...]] = {
    "neutral": ("neutral", "neutrally", "flat", "flatly", "plain", "plainly",
                "monotone", "unemotional", "中性", "平淡", "平常"),
    "happy": ("happy", "happily", "happiness", "cheerful", "cheerfully", "joyful",
              "joyfully", "joyous", "glad", "gladly", "upbeat", "merry", "开心",
              "高兴", "快乐", "愉快", "欢快", "喜悦"),
    "sad": ("sad", "sadly", "sadness", "sorrow", "sorrowful", "melancholy",
            "melancholic", "gloomy", "mournful", "unhappy", "somber", "sombre",
            "tearful", "悲伤", "伤心", "难过", "忧伤", "哀伤"),
    "angry": ("angry", "angrily", "anger", "furious", "furiously", "mad", "irate",
              "enraged", "rage", "生气", "愤怒", "恼火", "发火"),
    "surprise": ("surprise", "surprised", "astonished", "amazed", "amazement",
                 "shocked", "startled", "惊讶", "吃惊", "惊奇", "震惊"),
    "fear": ("fear", "fearful", "fearfully", "afraid", "scared", "frightened",
             "terrified", "害怕", "恐惧", "惊恐"),
    "disgust": ("disgust", "disgusted", "disgusting", "revolted", "厌恶", "恶心",
                "嫌弃"),
    "calm": ("calm", "calmly", "peaceful", "tranquil", "composed", "soothing",
             "平静", "冷静", "镇定"),
    "gentle": ("gentle", "gently", "tender", "tenderly", "soft", "softly", "warm",
               "warmly", "温柔", "柔和", "温和"),
    "relax": ("relax", "relaxed", "relaxing", "easygoing", "放松", "轻松"),
    "lyrical": ("lyrical", "lyric", "poetic", "poetically", "抒情"),
    "serious": ("serious", "seriously", "solemn", "solemnly", "stern", "sternly",
                "严肃", "庄重"),
    "disgruntled": ("disgruntled", "grumpy", "displeased", "dissatisfied", "不满"),
    "satisfied": ("satisfied", "满意", "满足"),
    "disappointed": ("disappointed", "disappointment", "失望"),
    "excited": ("excited", "excitedly", "excitement", "enthusiastic",
                "enthusiastically", "energetic", "thrilled", "兴奋", "激动"),
    "anxiety": ("anxious", "anxiously", "anxiety", "nervous", "nervously", "worried",
                "uneasy", "tense", "焦虑", "紧张", "不安"),
    "jealousy": ("jealous", "jealously", "jealousy", "envious", "嫉妒", "妒忌"),
    "hate": ("hate", "hateful", "hatred", "hostile", "憎恨", "仇恨"),
    "pity": ("pity", "pitying", "sympathetic", "compassionate", "怜悯", "同情"),
    "pleasure": ("pleasure", "pleasant", "pleasantly", "delighted", "delightful",
                 "愉悦"),
}  # fmt: skip
"""Words (English forms, Chinese words) that name each emotion id; the id itself
counts too."""
_ENGLISH = {
    word: emotion
    for emotion, words in _WORDS.items()
    for word in (emotion, *words)
    if word.isascii()
}
_CHINESE = sorted(
    ((w, e) for e, words in _WORDS.items() for w in words if not w.isascii()),
    key=lambda pair: -len(pair[0]),
)
_NEGATIONS = frozenset((
    "not", "no", "never", "don't", "dont", "doesn't", "isn't", "aren't", "without",
    "avoid", "nor", "neither", "none", "less", "stop",
))  # fmt: skip
_ZH_NEGATIONS = "不别没勿莫"
_CLAUSES = re.compile(r"[^,.;:!?()\"，。；：！？、（）\n]+")
_TOKENS = re.compile(r"[a-z]+(?:'[a-z]+)?")


def emotion_from_instructions(text: str, offered: Sequence[str]) -> str | None:
    """The first emotion ``text`` names that is in ``offered``, or None.

    An English word counts unless one of the two words before it in its clause is
    a negation ("not", "don't", ...: "don't sound sad" names none); a Chinese word
    unless a negation character stands right before it ("不开心" is not happy).
    """
    found: list[tuple[int, str]] = []
    lower = text.lower()
    for clause in _CLAUSES.finditer(lower):
        tokens = list(_TOKENS.finditer(clause.group()))
        for i, token in enumerate(tokens):
            emotion = _ENGLISH.get(token.group())
            before = {t.group() for t in tokens[max(0, i - 2) : i]}
            if emotion is not None and not before & _NEGATIONS:
                found.append((clause.start() + token.start(), emotion))
    taken = [False] * len(text)
    for word, emotion in _CHINESE:  # longest first: 不满 before 满 words
        start = lower.find(word)
        while start >= 0:
            end = start + len(word)
            negated = start > 0 and lower[start - 1] in _ZH_NEGATIONS
            if not any(taken[start:end]) and not negated:
                found.append((start, emotion))
            taken[start:end] = [True] * len(word)
            start = lower.find(word, end)
    for _, emotion in sorted(found):
        if emotion in offered:
            return emotion
    return None


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


# --- stream_format="sse" -----------------------------------------------------------

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
