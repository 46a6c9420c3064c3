"""Settings of the acoustic stage, read from ``ACOUSTIC_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tts_common.config import (
    ConfigError,
    ModelStageConfig,
    ServerConfig,
    env_float,
    env_int,
)

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
    max_batch: int = 8
    """Most sentences sharing one decoder job (``ACOUSTIC_MAX_BATCH``); 1 = no
    cross-request batching."""
    batch_wait_ms: float = 2.0
    """Longest a sentence's next chunk waits for other sentences to join its batch,
    in milliseconds (``ACOUSTIC_BATCH_WAIT_MS``); it never waits when every
    streaming sentence is already there."""
    server: ServerConfig = field(default_factory=ServerConfig)
    """gRPC server, metrics and executor settings (``ACOUSTIC_PORT``,
    ``ACOUSTIC_MAX_WORKERS``, ``ACOUSTIC_MAX_QUEUE``, ...). A job is one sentence's
    alignment or one batch of chunks; at most ``max_batch * (MAX_WORKERS +
    MAX_QUEUE)`` sentences stream at once per voice."""

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages name the variable."""
        super().__post_init__()
        if self.chunk_steps < 1:
            raise ConfigError(f"{ENV_PREFIX}CHUNK_STEPS must be at least 1")
        if self.max_batch < 1:
            raise ConfigError(f"{ENV_PREFIX}MAX_BATCH must be at least 1")
        if not 0 <= self.batch_wait_ms <= 1000:
            raise ConfigError(f"{ENV_PREFIX}BATCH_WAIT_MS must be in 0..1000")

    @property
    def batch_wait_s(self) -> float:
        """``batch_wait_ms`` in seconds."""
        return self.batch_wait_ms / 1000

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
            max_batch=env_int(environ, f"{p}MAX_BATCH", 8),
            batch_wait_ms=env_float(environ, f"{p}BATCH_WAIT_MS", 2.0),
            server=ServerConfig.from_env(
                environ,
                p,
                default_port=DEFAULT_PORT,
                default_metrics_port=DEFAULT_METRICS_PORT,
                # StreamMel requests carry one sentence's symbols: kilobytes.
                default_max_receive_bytes=1 << 20,
            ),
        )
