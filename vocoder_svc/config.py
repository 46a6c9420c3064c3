"""Settings of the vocoder stage, read from ``VOCODER_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tts_common.config import (
    ConfigError,
    ModelStageConfig,
    ServerConfig,
    env_float,
    env_int,
    env_str,
)
from vocoder_svc.precision import default_dtype, dtype_problem

__all__ = ["ENV_PREFIX", "VocoderConfig"]

ENV_PREFIX = "VOCODER_"
"""Prefix of every variable this stage reads, server settings included."""
DEFAULT_PORT = 50054
DEFAULT_METRICS_PORT = 9104


@dataclass(frozen=True)
class VocoderConfig(ModelStageConfig):
    """How the vocoder stage runs (prefix ``VOCODER_``); see :meth:`from_env`."""

    max_batch: int = 16
    """Most stream steps (mel chunks) run in one forward pass (``VOCODER_MAX_BATCH``)."""
    max_wait_ms: float = 2.0
    """Longest a step waits for others to join its batch, in milliseconds
    (``VOCODER_MAX_WAIT_MS``); 0 = run whatever is pending at once."""
    dtype: str = ""
    """Precision of the weights and batches (``VOCODER_DTYPE``): ``float32``,
    ``float16`` or ``bfloat16``; empty = float16 on CUDA, float32
    elsewhere. Audio is float32 again before PCM conversion; a reduced precision
    tags the revision (``+fp16``, ``+bf16``), so the cache keeps its audio apart."""
    server: ServerConfig = field(default_factory=ServerConfig)
    """gRPC server, metrics and executor settings (``VOCODER_PORT``,
    ``VOCODER_MAX_WORKERS``, ``VOCODER_MAX_QUEUE``, ...). A job is one batch, so at
    most ``max_batch * (MAX_WORKERS + MAX_QUEUE)`` steps may be pending."""

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages name the variable."""
        super().__post_init__()
        # Frozen: resolve the device's default dtype once, here.
        object.__setattr__(self, "dtype", self.dtype or default_dtype(self.device))
        problem = dtype_problem(self.device, self.dtype)
        if problem is not None:
            raise ConfigError(f"{ENV_PREFIX}DTYPE: {problem}")
        if self.max_batch < 1:
            raise ConfigError(f"{ENV_PREFIX}MAX_BATCH must be at least 1")
        if not 0 <= self.max_wait_ms <= 1000:
            raise ConfigError(f"{ENV_PREFIX}MAX_WAIT_MS must be in 0..1000")

    @property
    def max_wait_s(self) -> float:
        """``max_wait_ms`` in seconds."""
        return self.max_wait_ms / 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> VocoderConfig:
        """Read the settings from ``environ`` (pass ``os.environ``; tests pass a dict).

        Raises:
            ConfigError: ``VOCODER_MODEL_DIR`` is unset, or a value is malformed.
        """
        p = ENV_PREFIX
        return cls(
            **cls.model_fields(environ, p),  # type: ignore[arg-type]
            max_batch=env_int(environ, f"{p}MAX_BATCH", 16),
            max_wait_ms=env_float(environ, f"{p}MAX_WAIT_MS", 2.0),
            dtype=env_str(environ, f"{p}DTYPE", "").lower(),
            server=ServerConfig.from_env(
                environ,
                p,
                default_port=DEFAULT_PORT,
                default_metrics_port=DEFAULT_METRICS_PORT,
            ),
        )
