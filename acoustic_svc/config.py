"""Settings of the acoustic stage, read from ``ACOUSTIC_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tts_common.config import ConfigError, ServerConfig, env_int, env_str, require_env
from tts_common.modeldir import list_voices

__all__ = ["AcousticConfig", "ENV_PREFIX", "parse_voices"]

ENV_PREFIX = "ACOUSTIC_"
"""Prefix of every variable this stage reads, server settings included."""
DEFAULT_PORT = 50053
DEFAULT_METRICS_PORT = 9103


def parse_voices(raw: str) -> tuple[str, ...]:
    """Split a comma-separated voice list, dropping blanks and repeats (order kept)."""
    return tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))


@dataclass(frozen=True)
class AcousticConfig:
    """How the acoustic stage runs; see :meth:`from_env` for the variable names."""

    model_dir: str
    """ModelScope model directory (``ACOUSTIC_MODEL_DIR``, required)."""
    voices: tuple[str, ...] = ()
    """Voices to load (``ACOUSTIC_VOICES``, comma-separated); empty = every voice in
    voices.json. The first one loaded is the default voice."""
    device: str = "cpu"
    """Torch device of the models (``ACOUSTIC_DEVICE``), e.g. ``cpu`` or ``cuda:0``."""
    torch_threads: int = 0
    """Intra-op threads torch may use (``ACOUSTIC_TORCH_THREADS``); 0 = torch's default.
    With several inference workers, workers x threads should not exceed the cores."""
    chunk_steps: int = 4
    """Decoder steps per mel chunk when a request leaves ``chunk_steps`` at 0
    (``ACOUSTIC_CHUNK_STEPS``); smaller = earlier first audio, more messages."""
    server: ServerConfig = ServerConfig()
    """gRPC server, metrics and executor settings (``ACOUSTIC_PORT``,
    ``ACOUSTIC_MAX_WORKERS``, ``ACOUSTIC_MAX_QUEUE``, ...)."""

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages name the variable."""
        if self.torch_threads < 0:
            raise ConfigError(f"{ENV_PREFIX}TORCH_THREADS must not be negative")
        if self.chunk_steps < 1:
            raise ConfigError(f"{ENV_PREFIX}CHUNK_STEPS must be at least 1")

    def voice_names(self) -> tuple[str, ...]:
        """Voices to load, default first: as configured, else all in voices.json."""
        return self.voices or tuple(list_voices(self.model_dir))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AcousticConfig:
        """Read the settings from ``environ`` (pass ``os.environ``; tests pass a dict).

        Raises:
            ConfigError: ``ACOUSTIC_MODEL_DIR`` is unset, or a value is malformed.
        """
        p = ENV_PREFIX
        return cls(
            model_dir=require_env(environ, f"{p}MODEL_DIR"),
            voices=parse_voices(env_str(environ, f"{p}VOICES", "")),
            device=env_str(environ, f"{p}DEVICE", "cpu"),
            torch_threads=env_int(environ, f"{p}TORCH_THREADS", 0),
            chunk_steps=env_int(environ, f"{p}CHUNK_STEPS", 4),
            server=ServerConfig.from_env(
                environ,
                p,
                default_port=DEFAULT_PORT,
                default_metrics_port=DEFAULT_METRICS_PORT,
            ),
        )
