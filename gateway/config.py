"""Gateway settings, read from the environment once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.cache import CacheConfig
from tts_common.apikeys import ApiKeys
from tts_common.config import (
    ConfigError,
    ServerConfig,
    env_fields,
    env_int,
    require_env,
    text_request_bytes,
)
from tts_common.tls import ClientTls

__all__ = ["DEFAULT_PORT", "GatewayConfig", "parse_replicas"]

DEFAULT_PORT = 50050
DEFAULT_METRICS_PORT = 9101
"""Prometheus port, next to the stages' 9102-9104."""
"""Port the gateway listens on when ``GATEWAY_PORT`` is unset."""


def parse_replicas(name: str, raw: str) -> tuple[str, ...]:
    """Split a comma-separated ``host:port`` list, rejecting empty or portless items.

    Raises:
        ConfigError: An item is empty or has no port; the message names ``name``.
    """
    items = tuple(item.strip() for item in raw.split(","))
    for item in items:
        host, sep, port = item.rpartition(":")
        if not item or not sep or not host or not port.isdigit():
            raise ConfigError(
                f"{name} must be a comma-separated list of host:port, got {raw!r}"
            )
    # Duplicates would only double one replica's share of the round robin.
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway needs besides the shared server settings."""

    frontend_addrs: tuple[str, ...]
    """Frontend replicas, ``host:port`` each (``FRONTEND_ADDR``, comma-separated)."""
    acoustic_addrs: tuple[str, ...]
    """Acoustic-stage replicas (``ACOUSTIC_ADDR``, comma-separated)."""
    vocoder_addrs: tuple[str, ...]
    """Vocoder-stage replicas (``VOCODER_ADDR``, comma-separated)."""
    server: ServerConfig = field(default_factory=ServerConfig)
    """Port, limits, logging (``GATEWAY_PORT``, ``GATEWAY_LOG_LEVEL``, ...)."""
    max_text_chars: int = 4096
    """Longest text accepted, in code points (``GATEWAY_MAX_TEXT_CHARS``; OpenAI's
    speech limit); the frontend's own limit applies too when it is lower."""
    max_audio_s: float = 4000.0
    """Most audio one request may produce, in seconds, breaks included
    (``GATEWAY_MAX_AUDIO_S``). Estimated after the analysis and before any audio is
    made, as each sentence's symbols x ``max_symbol_s`` / its speed, plus its break;
    a request estimated over it is refused with INVALID_ARGUMENT. The default lets
    4,096 characters of ordinary prose through at speed 0.5 (about 9,500 symbols:
    an estimate of 3,900 s; real audio is about half of it)."""
    max_symbol_s: float = 0.2
    """Longest a KAN-TTS symbol is assumed to last at speed 1.0, in seconds
    (``GATEWAY_MAX_SYMBOL_S``), for that estimate; the demo voice's sentences
    measured 0.08 to 0.14 (4,096 characters are about 9,500 symbols)."""
    sentences_in_flight: int = 2
    """Sentences synthesized at once per request (``GATEWAY_SENTENCES_IN_FLIGHT``): 2
    lets sentence N+1 run in the acoustic stage while N is vocoded."""
    max_syntheses: int = 4
    """Requests that run the models at once (``GATEWAY_MAX_SYNTHESES``); fully cached
    requests need none. Size it to what this gateway's share of the stages can run
    without missing deadlines: past it, requests queue (FIFO) and a request the
    queue cannot serve in its deadline is refused at once (see
    :mod:`gateway.admission`)."""
    max_waiting: int = 64
    """Requests that may queue for those slots (``GATEWAY_MAX_WAITING``); past it,
    RESOURCE_EXHAUSTED at once."""
    retries: int = 2
    """Extra attempts of a downstream call that failed UNAVAILABLE before its first
    response, each on the next replica (``GATEWAY_RETRIES``)."""
    retry_backoff_s: float = 0.05
    """First retry delay in seconds, doubled per retry (``GATEWAY_RETRY_BACKOFF_S``)."""
    retry_max_backoff_s: float = 1.0
    """Cap on one retry delay, in seconds (``GATEWAY_RETRY_MAX_BACKOFF_S``)."""
    failover_retries: int = 2
    """Re-runs of a sentence whose acoustic or vocoder stream broke mid-way, each on
    another replica, skipping the audio already sent (``GATEWAY_FAILOVER_RETRIES``;
    0 = fail the request instead)."""
    keepalive_time_s: float = 12.0
    """Seconds without reads before a stage channel pings (``GATEWAY_KEEPALIVE_TIME_S``).
    Just above the stages' 10 s ping floor; lower it only together with theirs."""
    keepalive_timeout_s: float = 5.0
    """Seconds a ping may go unanswered before the connection and its streams count as
    broken (``GATEWAY_KEEPALIVE_TIMEOUT_S``): how fast a vanished host is noticed."""
    replica_probe_s: float = 1.0
    """Least time a suspect replica is avoided (``GATEWAY_REPLICA_PROBE_S``); a health
    watch then lets it take calls again as soon as it reports SERVING."""
    reconnect_max_backoff_s: float = 0.25
    """Longest wait between attempts to reconnect a stage replica that went away
    (``GATEWAY_RECONNECT_MAX_BACKOFF_S``, plus up to 20% jitter): a restarted replica
    is in use again this soon after it listens. gRPC's own default is 120 s."""
    default_deadline_s: float = 300.0
    """Deadline for callers that set none, in seconds (``GATEWAY_DEFAULT_DEADLINE_S``),
    so no downstream call ever runs unbounded."""
    startup_timeout_s: float = 120.0
    """How long warm-up waits for every stage to report SERVING
    (``GATEWAY_STARTUP_TIMEOUT_S``); stages load models, so this is generous."""
    cache: CacheConfig = field(default_factory=CacheConfig)
    """Redis phrase cache, report counters and prices (``REDIS_URL``, ...)."""
    api_keys: ApiKeys = field(default_factory=ApiKeys)
    """Keys callers must present (``GATEWAY_API_KEYS_FILE``, ``GATEWAY_API_KEYS``;
    see :class:`tts_common.auth.ApiKeys`); none = no authentication."""
    stage_tls: ClientTls = field(default_factory=ClientTls)
    """TLS towards the stages (``GATEWAY_STAGE_TLS_CA_FILE``, and for mutual TLS
    ``GATEWAY_STAGE_TLS_CERT_FILE``, ``GATEWAY_STAGE_TLS_KEY_FILE``)."""

    @property
    def redis_url(self) -> str | None:
        """Phrase cache location (``REDIS_URL``); None runs without a cache."""
        return self.cache.redis_url

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages name the variables."""
        if self.max_text_chars < 1:
            raise ConfigError("GATEWAY_MAX_TEXT_CHARS must be at least 1")
        if self.max_audio_s <= 0 or self.max_symbol_s <= 0:
            raise ConfigError(
                "GATEWAY_MAX_AUDIO_S and GATEWAY_MAX_SYMBOL_S must be > 0"
            )
        if self.server.max_receive_bytes < text_request_bytes(self.max_text_chars):
            raise ConfigError(
                "GATEWAY_MAX_RECEIVE_BYTES must be at least "
                f"{text_request_bytes(self.max_text_chars)} for "
                f"GATEWAY_MAX_TEXT_CHARS={self.max_text_chars}"
            )
        if self.max_syntheses < 1 or self.max_waiting < 0:
            raise ConfigError(
                "GATEWAY_MAX_SYNTHESES must be >= 1 and GATEWAY_MAX_WAITING >= 0"
            )
        if self.sentences_in_flight < 1:
            raise ConfigError("GATEWAY_SENTENCES_IN_FLIGHT must be at least 1")
        if self.retries < 0 or self.failover_retries < 0:
            raise ConfigError(
                "GATEWAY_RETRIES and GATEWAY_FAILOVER_RETRIES must not be negative"
            )
        if min(self.keepalive_time_s, self.keepalive_timeout_s) < 0.001:
            raise ConfigError(
                "GATEWAY_KEEPALIVE_TIME_S and GATEWAY_KEEPALIVE_TIMEOUT_S must be > 0"
            )
        if self.replica_probe_s <= 0:
            raise ConfigError("GATEWAY_REPLICA_PROBE_S must be > 0")
        if not 0.001 <= self.reconnect_max_backoff_s <= 120:
            raise ConfigError("GATEWAY_RECONNECT_MAX_BACKOFF_S must be in 0.001..120")
        if not 0 <= self.retry_backoff_s <= self.retry_max_backoff_s:
            raise ConfigError(
                "GATEWAY_RETRY_BACKOFF_S must be in 0..GATEWAY_RETRY_MAX_BACKOFF_S"
            )
        if self.default_deadline_s <= 0 or self.startup_timeout_s <= 0:
            raise ConfigError(
                "GATEWAY_DEFAULT_DEADLINE_S and GATEWAY_STARTUP_TIMEOUT_S must be > 0"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatewayConfig:
        """Read the gateway's variables from ``environ`` (pass ``os.environ``).

        Raises:
            ConfigError: A stage address is missing, or a value is malformed; the
                message names the variable.
        """
        d = cls(frontend_addrs=(), acoustic_addrs=(), vocoder_addrs=())
        p = "GATEWAY_"
        return cls(
            frontend_addrs=_replicas(environ, "FRONTEND_ADDR"),
            acoustic_addrs=_replicas(environ, "ACOUSTIC_ADDR"),
            vocoder_addrs=_replicas(environ, "VOCODER_ADDR"),
            server=ServerConfig.from_env(
                environ,
                p,
                default_port=DEFAULT_PORT,
                default_metrics_port=DEFAULT_METRICS_PORT,
                # Requests carry text (and a few names); audio only goes out.
                default_max_receive_bytes=text_request_bytes(
                    env_int(environ, f"{p}MAX_TEXT_CHARS", d.max_text_chars)
                ),
            ),
            **env_fields(
                environ,
                p,
                d,
                (
                    "max_text_chars",
                    "max_audio_s",
                    "max_symbol_s",
                    "sentences_in_flight",
                    "max_syntheses",
                    "max_waiting",
                    "retries",
                    "retry_backoff_s",
                    "retry_max_backoff_s",
                    "failover_retries",
                    "keepalive_time_s",
                    "keepalive_timeout_s",
                    "replica_probe_s",
                    "reconnect_max_backoff_s",
                    "default_deadline_s",
                    "startup_timeout_s",
                ),
            ),
            cache=CacheConfig.from_env(environ),
            api_keys=ApiKeys.from_env(environ, p),
            stage_tls=ClientTls.from_env(environ, f"{p}STAGE_"),
        )


def _replicas(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A required replica list; fails fast naming the variable."""
    return parse_replicas(name, require_env(environ, name))
