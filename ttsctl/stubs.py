"""Typed views of the generated gateway stub, for the ttsctl commands.

protoc writes ``.pyi`` files for the messages but none for ``*_pb2_grpc``, so
``GatewayServiceStub`` is untyped: its constructor cannot be called from typed code
and its methods return ``Any``. The protocols below state the calls ttsctl makes,
and :func:`gateway_stub` / :func:`aio_gateway_stub` are the one place the
generated class is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Protocol

import grpc

from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from sambert_tts_protos.v1 import gateway_service_pb2_grpc

__all__ = ["AioGatewayStub", "GatewayStub", "aio_gateway_stub", "gateway_stub"]


class GatewayStub(Protocol):
    """``GatewayServiceStub`` over a blocking ``grpc.Channel``."""

    def Synthesize(  # noqa: N802 (the RPC's name)
        self, request: gw.SynthesizeRequest, timeout: float | None = None
    ) -> gw.SynthesizeResponse: ...

    def StreamSynthesize(  # noqa: N802
        self, request: gw.StreamSynthesizeRequest, timeout: float | None = None
    ) -> Iterator[gw.StreamSynthesizeResponse]: ...

    def StreamingSynthesize(  # noqa: N802
        self,
        requests: Iterator[gw.StreamingSynthesizeRequest],
        timeout: float | None = None,
    ) -> Iterator[gw.StreamingSynthesizeResponse]: ...

    def ListVoices(  # noqa: N802
        self, request: gw.ListVoicesRequest, timeout: float | None = None
    ) -> gw.ListVoicesResponse: ...

    def GetCacheReport(  # noqa: N802
        self, request: gw.GetCacheReportRequest, timeout: float | None = None
    ) -> gw.GetCacheReportResponse: ...


class AioGatewayStub(Protocol):
    """``GatewayServiceStub`` over a ``grpc.aio.Channel`` (only what ttsctl calls)."""

    def Synthesize(  # noqa: N802
        self, request: gw.SynthesizeRequest, timeout: float | None = None
    ) -> Awaitable[gw.SynthesizeResponse]: ...

    def StreamSynthesize(  # noqa: N802
        self, request: gw.StreamSynthesizeRequest, timeout: float | None = None
    ) -> AsyncIterator[gw.StreamSynthesizeResponse]: ...


# The generated class, with the type its instances have over each kind of channel.
_SYNC_STUB: Callable[[grpc.Channel], GatewayStub] = (
    gateway_service_pb2_grpc.GatewayServiceStub
)
_AIO_STUB: Callable[[grpc.aio.Channel], AioGatewayStub] = (
    gateway_service_pb2_grpc.GatewayServiceStub
)


def gateway_stub(channel: grpc.Channel) -> GatewayStub:
    """The gateway's stub on a blocking channel."""
    return _SYNC_STUB(channel)


def aio_gateway_stub(channel: grpc.aio.Channel) -> AioGatewayStub:
    """The gateway's stub on an asyncio channel."""
    return _AIO_STUB(channel)
