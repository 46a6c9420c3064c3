"""Voice aliases: OpenAI's voice names (``alloy`` ...) -> a voice and an emotion."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tts_common.config import ConfigError, yaml_section
from tts_common.symbols import EMOTIONS

__all__ = ["OPENAI_VOICES", "VoiceAlias", "VoiceAliases"]

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
    entries = yaml_section(text, source, "aliases")
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
