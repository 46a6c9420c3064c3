"""Container health check: ask a stage's ``grpc.health.v1.Health/Check`` for SERVING.

Docker's ``HEALTHCHECK`` (and compose's ``depends_on: condition: service_healthy``)
runs this inside the container; Kubernetes ignores it and uses native ``grpc:``
probes instead. It lives in ``deploy/`` and is copied into each image, so the images
need no extra binary such as grpc_health_probe.

Usage: ``python healthcheck.py PREFIX DEFAULT_PORT`` reads ``<PREFIX>PORT`` (the
variable the service binds with) so a changed port is still the one checked.
Exit status 0 means SERVING, 1 anything else (NOT_SERVING while loading or
draining, refused, timed out), as Docker expects.
"""

from __future__ import annotations

import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_TIMEOUT_S = 3.0


def check(address: str, timeout_s: float = _TIMEOUT_S) -> bool:
    """True if the server at ``address`` reports SERVING for the whole server ("")."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout_s
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def main(argv: list[str]) -> int:
    """Check ``127.0.0.1:<PREFIX>PORT`` (or DEFAULT_PORT); returns the exit status."""
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: healthcheck.py PREFIX DEFAULT_PORT", file=sys.stderr)
        return 2
    prefix, default_port = argv
    port = os.environ.get(f"{prefix}PORT", "").strip() or default_port
    return 0 if check(f"127.0.0.1:{port}") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
