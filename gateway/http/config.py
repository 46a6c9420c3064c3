"""HTTP bridge settings: environment variables, overridable by command-line flags."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gateway.config import DEFAULT_PORT as GATEWAY_PORT
from gateway.http.voice_aliases import VoiceAliases
from tts_common.apikeys import ApiKeys
from tts_common.config import ConfigError, check_server_tls, env_fields, env_str
from tts_common.tls import ClientTls

__all__ = ["DEFAULT_PORT", "HttpConfig"]

DEFAULT_PORT = 8080
"""Port the bridge listens on when ``HTTP_PORT`` is unset."""
_LOG_FORMATS = ("json", "text")


@dataclass(frozen=True)
class HttpConfig:
    """Where the bridge listens and which gateway it calls."""

    gateway_addr: str = f"localhost:{GATEWAY_PORT}"
    """The gateway's gRPC ``host:port`` (``GATEWAY_ADDR``)."""
    host: str = "[::]"
    """Interface to bind (``HTTP_HOST``); ``[::]`` = every IPv4 and IPv6 address."""
    port: int = DEFAULT_PORT
    """HTTP port (``HTTP_PORT``); 0 picks a free one."""
    request_timeout_s: float = 3600.0
    """Deadline of one synthesis call on the gateway (``HTTP_REQUEST_TIMEOUT_S``).
    HTTP callers cannot send a deadline: they hang up, which cancels the call. So
    this only caps the work, and must cover the longest text's synthesis (OpenAI's
    4,096 characters: about 0.5 s a character streamed on a busy 2-core box)."""
    max_body_bytes: int = 1 << 20
    """Largest request body accepted (``HTTP_MAX_BODY_BYTES``)."""
    max_message_bytes: int = 64 << 20
    """gRPC receive limit per message (``HTTP_MAX_MESSAGE_BYTES``); match the gateway's."""
    grace_s: float = 30.0
    """Seconds running responses may finish after SIGTERM (``HTTP_GRACE_S``)."""
    drain_delay_s: float = 0.0
    """Seconds between answering ``/readyz`` 503 and closing the listener after
    SIGTERM (``HTTP_DRAIN_DELAY_S``), so load balancers move traffic away first."""
    log_level: str = "INFO"
    """Root log level name (``HTTP_LOG_LEVEL``)."""
    log_format: str = "json"
    """``json`` or ``text`` (``HTTP_LOG_FORMAT``)."""
    tls_cert_file: str = ""
    """PEM certificate chain for HTTPS (``HTTP_TLS_CERT_FILE``, with
    ``HTTP_TLS_KEY_FILE``); the port then speaks HTTPS only."""
    tls_key_file: str = ""
    """PEM private key of that certificate (``HTTP_TLS_KEY_FILE``)."""
    tls_client_ca_file: str = ""
    """PEM CA that client certificates must chain to (``HTTP_TLS_CLIENT_CA_FILE``):
    mutual TLS, clients without one are refused."""
    gateway_tls: ClientTls = field(default_factory=ClientTls)
    """TLS to the gateway: ``HTTP_GATEWAY_TLS_CA_FILE``, and for mutual TLS
    ``HTTP_GATEWAY_TLS_CERT_FILE`` and ``HTTP_GATEWAY_TLS_KEY_FILE``."""
    api_keys: ApiKeys = field(default_factory=ApiKeys)
    """Keys checked on ``/v1/*`` before the gateway is called (``HTTP_API_KEYS_FILE``,
    ``HTTP_API_KEYS``; same format as the gateway's). Either way the caller's key is
    passed on to the gateway, which checks its own list."""
    voice_aliases: VoiceAliases = field(default_factory=VoiceAliases)
    """Voice names such as OpenAI's ``alloy`` that stand for a voice and emotion
    (``HTTP_VOICE_ALIASES_FILE``, ``HTTP_VOICE_ALIASES``); every OpenAI name is the
    default voice, neutral, unless configured."""

    def __post_init__(self) -> None:
        """Reject values that would only fail later; messages name the variables."""
        host, sep, port = self.gateway_addr.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ConfigError(
                f"GATEWAY_ADDR must be host:port, got {self.gateway_addr!r}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError("HTTP_PORT must be in 0..65535")
        if self.request_timeout_s <= 0 or min(self.grace_s, self.drain_delay_s) < 0:
            raise ConfigError(
                "HTTP_REQUEST_TIMEOUT_S must be > 0; HTTP_GRACE_S and "
                "HTTP_DRAIN_DELAY_S must not be negative"
            )
        if self.max_body_bytes < 1024 or self.max_message_bytes < (1 << 20):
            raise ConfigError(
                "HTTP_MAX_BODY_BYTES >= 1024, HTTP_MAX_MESSAGE_BYTES >= 1 MiB"
            )
        if self.log_format not in _LOG_FORMATS:
            raise ConfigError(f"HTTP_LOG_FORMAT must be one of {_LOG_FORMATS}")
        try:
            check_server_tls(
                self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file
            )
        except ConfigError as exc:
            raise ConfigError(f"HTTP_{exc}") from None

    @property
    def bind_host(self) -> str | None:
        """The host for aiohttp: None (every interface, v4 and v6) for ``[::]``.

        asyncio marks IPv6 sockets v6-only, so binding ``::`` would refuse IPv4.
        """
        return None if self.host in ("[::]", "::", "") else self.host.strip("[]")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> HttpConfig:
        """Read ``GATEWAY_ADDR`` and the ``HTTP_*`` variables from ``environ``.

        Raises:
            ConfigError: A value is malformed; the message names the variable.
        """
        d, p = cls(), "HTTP_"
        return cls(
            gateway_addr=env_str(environ, "GATEWAY_ADDR", d.gateway_addr),
            **env_fields(
                environ,
                p,
                d,
                (
                    "host",
                    "port",
                    "request_timeout_s",
                    "max_body_bytes",
                    "max_message_bytes",
                    "grace_s",
                    "drain_delay_s",
                    "tls_cert_file",
                    "tls_key_file",
                    "tls_client_ca_file",
                ),
            ),
            gateway_tls=ClientTls.from_env(environ, f"{p}GATEWAY_"),
            api_keys=ApiKeys.from_env(environ, p),
            voice_aliases=VoiceAliases.from_env(environ, p),
            log_level=env_str(environ, f"{p}LOG_LEVEL", d.log_level).upper(),
            log_format=env_str(environ, f"{p}LOG_FORMAT", d.log_format).lower(),
        )

    def with_flags(self, argv: Sequence[str] | None) -> HttpConfig:
        """This config with ``--gateway``, ``--host``, ``--port`` given on the command line."""
        parser = argparse.ArgumentParser(
            prog="python -m gateway.http", description=__doc__
        )
        parser.add_argument(
            "--gateway", help=f"gateway HOST:PORT (GATEWAY_ADDR; {self.gateway_addr})"
        )
        parser.add_argument(
            "--host", help=f"interface to bind (HTTP_HOST; {self.host})"
        )
        parser.add_argument(
            "--port", type=int, help=f"HTTP port (HTTP_PORT; {self.port})"
        )
        args = parser.parse_args(argv)
        given = {"gateway_addr": args.gateway, "host": args.host, "port": args.port}
        return replace(self, **{k: v for k, v in given.items() if v is not None})
