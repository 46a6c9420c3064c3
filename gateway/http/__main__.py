"""``python -m gateway.http``: serve the HTTP API and WebUI in front of the gateway."""

from __future__ import annotations

import asyncio
import os
import sys

from gateway.http.config import HttpConfig
from gateway.http.server import serve
from tts_common.config import ConfigError
from tts_common.logging import configure_logging


def main() -> None:
    """Read ``GATEWAY_ADDR`` / ``HTTP_*`` (flags override), then serve until SIGTERM."""
    try:
        cfg = HttpConfig.from_env(os.environ).with_flags(sys.argv[1:])
    except ConfigError as exc:
        raise SystemExit(f"gateway.http: {exc}") from None
    configure_logging("http", cfg.log_level, cfg.log_format)
    asyncio.run(serve(cfg))


if __name__ == "__main__":
    main()
