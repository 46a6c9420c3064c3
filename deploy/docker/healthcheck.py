"""Container health check: ask a service's ``grpc.health.v1.Health/Check`` for SERVING.

Docker's ``HEALTHCHECK`` (and compose's ``depends_on: condition: service_healthy``)
runs this inside the container, and so do the ``exec:`` probes of the Kubernetes
``tls`` overlay; the other overlays use native ``grpc:`` probes, which speak
plaintext only. It lives in ``deploy/`` and is copied into each image; it needs only
grpcio and grpcio-health-checking, so the images need no grpc_health_probe binary.

Usage: ``python healthcheck.py PREFIX DEFAULT_PORT`` checks ``127.0.0.1`` at
``<PREFIX>PORT`` (the variable the service binds with; DEFAULT_PORT when unset).

TLS follows the service's own settings. If ``<PREFIX>TLS_CERT_FILE`` is set, the check
dials TLS and trusts ``<PREFIX>TLS_PROBE_CA_FILE``, the CA that issued the server's
certificate (default ``<PREFIX>TLS_CLIENT_CA_FILE``; with neither, the system roots).
It expects the certificate's name, not 127.0.0.1: ``<PREFIX>TLS_PROBE_SERVER_NAME``,
by default the service in lower case (``acoustic`` for ``ACOUSTIC_``). For mutual TLS
(``<PREFIX>TLS_CLIENT_CA_FILE`` set) it presents ``<PREFIX>TLS_PROBE_CERT_FILE`` and
``<PREFIX>TLS_PROBE_KEY_FILE``, a certificate from that CA with clientAuth usage.

Exit status 0 means SERVING, 1 anything else (NOT_SERVING while loading or
draining, refused, timed out, TLS refused, a TLS file unreadable), as Docker expects;
2 means bad arguments. The reason for a 1 is printed on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_TIMEOUT_S = 3.0

Tls = tuple[grpc.ChannelCredentials, str]
"""Channel credentials and the server name the certificate must carry."""


def tls_from_env(prefix: str, environ: Mapping[str, str]) -> Tls | None:
    """The TLS settings for checking the service at ``prefix``; None for plaintext.

    Raises:
        OSError: A named file cannot be read.
    """

    def var(name: str) -> str:
        return environ.get(f"{prefix}TLS_{name}", "").strip()

    def read(name: str) -> bytes | None:
        return Path(var(name)).read_bytes() if var(name) else None

    if not var("CERT_FILE"):
        return None
    ca_var = "PROBE_CA_FILE" if var("PROBE_CA_FILE") else "CLIENT_CA_FILE"
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(ca_var),
        private_key=read("PROBE_KEY_FILE"),
        certificate_chain=read("PROBE_CERT_FILE"),
    )
    return credentials, var("PROBE_SERVER_NAME") or prefix.rstrip("_").lower()


def check(address: str, timeout_s: float = _TIMEOUT_S, tls: Tls | None = None) -> bool:
    """True if the server at ``address`` reports SERVING for the whole server ("")."""
    if tls is None:
        channel = grpc.insecure_channel(address)
    else:
        name_override = [("grpc.ssl_target_name_override", tls[1])]
        channel = grpc.secure_channel(address, tls[0], options=name_override)
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout_s
            )
        except grpc.RpcError as exc:
            print(f"{address}: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return False
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        print(f"{address}: {status}", file=sys.stderr)
        return False
    return True


def main(argv: list[str]) -> int:
    """Check ``127.0.0.1:<PREFIX>PORT`` (or DEFAULT_PORT); returns the exit status."""
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: healthcheck.py PREFIX DEFAULT_PORT", file=sys.stderr)
        return 2
    prefix, default_port = argv
    port = os.environ.get(f"{prefix}PORT", "").strip() or default_port
    try:
        tls = tls_from_env(prefix, os.environ)
    except OSError as exc:
        print(f"TLS file unreadable: {exc}", file=sys.stderr)
        return 1
    return 0 if check(f"127.0.0.1:{port}", tls=tls) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
