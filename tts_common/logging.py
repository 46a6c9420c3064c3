"""Process-wide log setup: one JSON (or text) line a record, with the request id."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = [
    "API_KEY_NAME",
    "REQUEST_ID",
    "JsonFormatter",
    "configure_logging",
    "current_request_id",
]

REQUEST_ID: ContextVar[str | None] = ContextVar("tts_request_id", default=None)
"""Id of the RPC being handled; set by the server interceptor, read by the formatters.

Each gRPC aio handler runs in its own task, and tasks copy the context, so the value
never leaks between concurrent RPCs.
"""

API_KEY_NAME: ContextVar[str | None] = ContextVar("tts_api_key_name", default=None)
"""Name of the API key the current request authenticated with (never the key itself);
set by the auth interceptor or middleware, written as ``api_key`` in JSON logs."""

_TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(service)s %(name)s [%(request_id)s] %(message)s"
)
# Attributes every LogRecord has; anything else came in through ``extra=``.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_OWN_FIELDS = frozenset({"service", "request_id", "api_key"})


def current_request_id() -> str | None:
    """The request id of the RPC this code runs for, or None outside one."""
    return REQUEST_ID.get()


class _ContextFilter(logging.Filter):
    """Stamps each record with the service name and the current request id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``service`` and ``request_id`` attributes; never drops a record."""
        record.service = self._service
        record.request_id = REQUEST_ID.get() or "-"
        record.api_key = API_KEY_NAME.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, severity, service, logger, msg, request_id (and
    api_key, the key's name, when the request authenticated with one).

    Values passed through ``extra=`` are added as further keys (with ``str()`` for
    anything JSON cannot hold); exceptions go under ``exc``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single JSON line."""
        request_id = getattr(record, "request_id", "-")
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "severity": record.levelname,
            "service": getattr(record, "service", ""),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": None if request_id == "-" else request_id,
        }
        api_key = getattr(record, "api_key", None)
        if api_key:
            entry["api_key"] = api_key
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in _OWN_FIELDS:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    service: str,
    level: str = "INFO",
    fmt: str = "json",
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record of the process to ``stream`` in the chosen format.

    Replaces the handler a previous call installed (so tests and re-configuration do
    not double every line) and leaves handlers installed by others alone.

    Args:
        service: Name written in every record, e.g. ``"acoustic"``.
        level: Root level name such as ``"INFO"``.
        fmt: ``"json"`` for log collectors, ``"text"`` for humans.
        stream: Where to write; standard output when None (containers collect it).

    Returns:
        The installed handler.

    Raises:
        ValueError: ``fmt`` or ``level`` is unknown.
    """
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be 'json' or 'text', got {fmt!r}")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.addFilter(_ContextFilter(service))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    handler.set_name("tts_common")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "tts_common"]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler
