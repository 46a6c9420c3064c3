"""HTTP bridge: an OpenAI-compatible speech API and a WebUI over the gateway's gRPC API."""

__all__ = ["HttpConfig", "build_app"]

from gateway.http.app import build_app
from gateway.http.config import HttpConfig
