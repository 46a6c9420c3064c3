"""How a stage call failed: the status passed through, or a stream that broke."""

from __future__ import annotations

import grpc

from tts_common.errors import TtsError

__all__ = [
    "BROKEN_CODES",
    "CORE_SEND_FAILED",
    "StageError",
    "StreamBroken",
    "stage_error",
]

BROKEN_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
"""Codes of a stream that broke under us: the replica went away or dropped the
connection. A local ``call.cancel()`` never shows up as CANCELLED here (grpc.aio
raises asyncio.CancelledError then), so CANCELLED means the transport or the
replica ended the call, e.g. a server stopping without grace."""
CORE_SEND_FAILED = "Internal error from Core"
"""What grpc.aio reports (as INTERNAL) when writing to a stream whose connection
just died: the send failed in gRPC core, not in the stage."""


class StageError(TtsError):
    """A downstream stage failed; ``status`` passes its gRPC code through unchanged."""

    def __init__(self, status: str, message: str) -> None:
        """Create the error with the status name the client will see."""
        super().__init__(message)
        self.status = status


class StreamBroken(StageError):
    """A stage stream failed after it was committed, because of its replica or the
    connection (not the request): the sentence may be re-run on another replica."""

    def __init__(self, stage: str, addr: str, exc: grpc.aio.AioRpcError) -> None:
        """Report UNAVAILABLE: the caller did not cancel, whatever the wire said."""
        code = exc.code().name
        super().__init__(
            "UNAVAILABLE", f"{stage} stream to {addr} broke ({code}: {exc.details()})"
        )
        self.stage, self.addr = stage, addr


def stage_error(stage: str, exc: grpc.aio.AioRpcError) -> StageError:
    """The downstream status, unchanged, with the stage named in the message."""
    return StageError(exc.code().name, f"{stage} stage: {exc.details()}")
