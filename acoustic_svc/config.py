"""Settings of the acoustic stage, read from ``ACOUSTIC_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tts_common.config import ConfigError, ModelStageConfig, ServerConfig, env_int

__all__ = ["ENV_PREFIX", "AcousticConfig"]

ENV_PREFIX = "ACOUSTIC_"
"""Prefix of every variable this stage reads, server settings included."""
DEFAULT_PORT = 50053
DEFAULT_METRICS_PORT = 9103


@dataclass(frozen=True)
class AcousticConfig(ModelStageConfig):
    """How the acoustic stage runs (prefix ``ACOUSTIC_``); see :meth:`from_env`."""

    chunk_steps: int = 4
    """Decoder steps per mel chunk when a request leaves ``chunk_steps`` at 0
    (``ACOUSTIC_CHUNK_STEPS``); smaller = earlier first audio, more messages."""
    server: ServerConfig = field(default_factory=ServerConfig)
    """gRPC server, metrics and executor settings (``ACOUSTIC_PORT``,
    ``ACOUSTIC_MAX_WORKERS``, ``ACOUSTIC_MAX_QUEUE``, ...)."""

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages name the variable."""
        super().__post_init__()
        if self.chunk_steps < 1:
            raise ConfigError(f"{ENV_PREFIX}CHUNK_STEPS must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AcousticConfig:
        """Read the settings from ``environ`` (pass ``os.environ``; tests pass a dict).

        Raises:
            ConfigError: ``ACOUSTIC_MODEL_DIR`` is unset, or a value is malformed.
        """
        p = ENV_PREFIX
        return cls(
            **cls.model_fields(environ, p),  # type: ignore[arg-type]
            chunk_steps=env_int(environ, f"{p}CHUNK_STEPS", 4),
            server=ServerConfig.from_env(
                environ,
                p,
                default_port=DEFAULT_PORT,
                default_metrics_port=DEFAULT_METRICS_PORT,
                # StreamMel requests carry one sentence's symbols: kilobytes.
                default_max_receive_bytes=1 << 20,
            ),
        )
