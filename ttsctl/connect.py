"""The channel ttsctl's client commands open to a gateway, with its key and TLS.

Settings come from the environment, so keys never appear on a command line (where
``ps`` would show them): ``TTS_API_KEY`` is sent as ``authorization: Bearer`` on
every call, and ``TTS_TLS_CA_FILE`` (plus ``TTS_TLS_CERT_FILE`` and
``TTS_TLS_KEY_FILE`` for mTLS) switches the channel to TLS. ``TTS_SERVER`` is the
default of every ``--server``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

__all__ = [
    "DEFAULT_SERVER",
    "add_server_argument",
    "default_server",
    "open_channel",
    "rpc_error_line",
]

DEFAULT_SERVER = "localhost:50050"
"""The gateway ttsctl calls when neither ``--server`` nor ``TTS_SERVER`` says."""


def default_server(environ: Mapping[str, str] = os.environ) -> str:
    """``TTS_SERVER`` when set and not empty, else :data:`DEFAULT_SERVER`."""
    return environ.get("TTS_SERVER", "").strip() or DEFAULT_SERVER


def add_server_argument(parser: argparse.ArgumentParser) -> None:
    """``--server HOST:PORT``, defaulting to ``TTS_SERVER`` (else localhost:50050)."""
    parser.add_argument(
        "--server",
        default=default_server(),
        help=f"gateway HOST:PORT (default: $TTS_SERVER, else {DEFAULT_SERVER})",
    )


class _BearerKey(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]  # grpc ships no stubs
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    """Adds ``authorization: Bearer <key>`` to every call's metadata."""

    def __init__(self, key: str) -> None:
        self._header = ("authorization", f"Bearer {key}")

    def _with_key(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._header]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(
        self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._with_key(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[[Any, Any], Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._with_key(details), request)


MAX_REPLY_BYTES = 64 << 20
"""Largest reply accepted: the gateway's own unary limit. gRPC's default, 4 MiB,
is about 95 s of 22.05 kHz PCM; a long paragraph's unary reply is several times
that."""
_OPTIONS = (("grpc.max_receive_message_length", MAX_REPLY_BYTES),)


def open_channel(server: str, environ: Mapping[str, str] = os.environ) -> grpc.Channel:
    """A blocking channel to ``server`` (``HOST:PORT``), with TLS and the API key
    from ``environ`` when they are set; use it as a context manager."""
    ca_file = environ.get("TTS_TLS_CA_FILE", "")
    if ca_file:
        cert, key = (
            environ.get("TTS_TLS_CERT_FILE", ""),
            environ.get("TTS_TLS_KEY_FILE", ""),
        )
        credentials = grpc.ssl_channel_credentials(
            root_certificates=Path(ca_file).read_bytes(),
            private_key=Path(key).read_bytes() if key else None,
            certificate_chain=Path(cert).read_bytes() if cert else None,
        )
        channel = grpc.secure_channel(server, credentials, _OPTIONS)
    else:
        channel = grpc.insecure_channel(server, _OPTIONS)
    api_key = environ.get("TTS_API_KEY", "")
    if api_key:
        return grpc.intercept_channel(channel, _BearerKey(api_key))
    return channel


def rpc_error_line(err: grpc.RpcError) -> str:
    """``CODE: details`` of a failed call, on one line (for ``ttsctl X: ...``)."""
    code = err.code() if hasattr(err, "code") else None
    name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    details = (err.details() if hasattr(err, "details") else None) or "no details"
    return f"{name}: {' '.join(str(details).split())}"
