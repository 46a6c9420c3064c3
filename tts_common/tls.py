"""TLS and mutual TLS from PEM files: gRPC credentials, ``ssl`` contexts, channels.

Every hop is configured the same way, by file paths in the environment: a server
takes ``<PREFIX>TLS_CERT_FILE``, ``<PREFIX>TLS_KEY_FILE`` and, for mutual TLS,
``<PREFIX>TLS_CLIENT_CA_FILE``; a client takes ``<PREFIX>TLS_CA_FILE`` (the CA that
signed the server's certificate) and, for mutual TLS, ``<PREFIX>TLS_CERT_FILE`` and
``<PREFIX>TLS_KEY_FILE``. Files are read once, at start-up.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc

from tts_common.config import ConfigError, env_str

__all__ = [
    "ClientTls",
    "ServerTlsFiles",
    "aio_channel",
    "channel_credentials",
    "server_credentials",
    "server_ssl_context",
]


class ServerTlsFiles(Protocol):
    """A server config with TLS files (``ServerConfig``, the HTTP bridge's config)."""

    @property
    def tls_cert_file(self) -> str:
        """PEM certificate chain; empty = plaintext."""
        ...

    @property
    def tls_key_file(self) -> str:
        """PEM private key."""
        ...

    @property
    def tls_client_ca_file(self) -> str:
        """PEM CA of the client certificates; empty = no client certificate asked."""
        ...


@dataclass(frozen=True)
class ClientTls:
    """How a client verifies its server and, for mutual TLS, proves who it is."""

    ca_file: str = ""
    """PEM CA bundle the server's certificate must chain to (``<PREFIX>TLS_CA_FILE``);
    setting it turns TLS on for this hop."""
    cert_file: str = ""
    """PEM client certificate for mutual TLS (``<PREFIX>TLS_CERT_FILE``)."""
    key_file: str = ""
    """PEM private key of the client certificate (``<PREFIX>TLS_KEY_FILE``)."""

    def __post_init__(self) -> None:
        """Reject half a configuration; names are relative to the prefix."""
        if bool(self.cert_file) != bool(self.key_file):
            raise ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
        if self.cert_file and not self.ca_file:
            raise ConfigError("a client certificate (TLS_CERT_FILE) needs TLS_CA_FILE")

    @property
    def enabled(self) -> bool:
        """Whether this hop uses TLS."""
        return bool(self.ca_file)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str) -> ClientTls:
        """Read ``<prefix>TLS_CA_FILE``, ``<prefix>TLS_CERT_FILE``, ``<prefix>TLS_KEY_FILE``.

        Raises:
            ConfigError: Half a configuration; the message names the prefix.
        """
        try:
            return cls(
                ca_file=env_str(environ, f"{prefix}TLS_CA_FILE", ""),
                cert_file=env_str(environ, f"{prefix}TLS_CERT_FILE", ""),
                key_file=env_str(environ, f"{prefix}TLS_KEY_FILE", ""),
            )
        except ConfigError as exc:
            raise ConfigError(f"{exc} (variable prefix {prefix!r})") from None


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read TLS file {path!r} ({exc})") from None


def server_credentials(files: ServerTlsFiles) -> grpc.ServerCredentials | None:
    """gRPC server credentials, or None when the server is plaintext.

    Raises:
        ConfigError: A file cannot be read.
    """
    if not files.tls_cert_file:
        return None
    client_ca = _read(files.tls_client_ca_file) if files.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(_read(files.tls_key_file), _read(files.tls_cert_file))],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def server_ssl_context(files: ServerTlsFiles) -> ssl.SSLContext | None:
    """An ``ssl`` context for an HTTPS server (TLS 1.2 or later), or None.

    Raises:
        ConfigError: A file cannot be read or holds no usable certificate or key.
    """
    if not files.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.tls_cert_file, files.tls_key_file)
        if files.tls_client_ca_file:
            context.load_verify_locations(cafile=files.tls_client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS files unusable ({exc})") from None
    return context


def channel_credentials(tls: ClientTls) -> grpc.ChannelCredentials | None:
    """gRPC channel credentials, or None for a plaintext hop.

    Raises:
        ConfigError: A file cannot be read.
    """
    if not tls.enabled:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file),
        private_key=_read(tls.key_file) if tls.key_file else None,
        certificate_chain=_read(tls.cert_file) if tls.cert_file else None,
    )


def aio_channel(
    address: str,
    credentials: grpc.ChannelCredentials | None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """A grpc.aio channel: secure with ``credentials``, plaintext without."""
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=list(options))
    return grpc.aio.secure_channel(address, credentials, options=list(options))
