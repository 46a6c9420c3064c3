"""Connection recycling (``MAX_CONNECTION_AGE_S``) never cuts a live stream: the
server still sends its GOAWAY at the age, so new calls go out on a new connection
(and re-resolve), but a call already running finishes however long it takes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import grpc

from tts_common.config import ServerConfig
from tts_common.server import build_server

_SERVICE = "test.v1.AgeService"


class _Slow:
    """A stream that takes ``seconds``, and a call that names the caller's peer."""

    def __init__(self) -> None:
        self.peers: list[str] = []

    async def drip(
        self, request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        for i in range(int(request)):
            await asyncio.sleep(0.25)
            yield str(i).encode()

    async def peer(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        peer = str(context.peer())
        self.peers.append(peer)
        return peer.encode()

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        handlers = {
            "Drip": grpc.unary_stream_rpc_method_handler(self.drip),
            "Peer": grpc.unary_unary_rpc_method_handler(self.peer),
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(_SERVICE, handlers),)
        )
        return [_SERVICE]


async def test_a_stream_outlives_the_connection_age_and_its_grace() -> None:
    """Age 0.5 s, drain grace 0.2 s: a 3 s stream used to be cut at about 0.7 s
    (UNAVAILABLE); now it completes, while a call made after the age arrives on a
    new connection (the GOAWAY still went out)."""
    slow = _Slow()
    cfg = ServerConfig(host="127.0.0.1", port=0, grace_s=0.2, max_connection_age_s=0.5)
    server, port, _ = build_server(cfg, slow.register)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            peer = channel.unary_unary(f"/{_SERVICE}/Peer")
            first = await peer(b"", timeout=5)
            drip = channel.unary_stream(f"/{_SERVICE}/Drip")
            chunks = [chunk async for chunk in drip(b"12", timeout=10)]
            assert chunks == [str(i).encode() for i in range(12)]
            later = await peer(b"", timeout=5)
            assert later != first, "no GOAWAY: still on the first connection"
    finally:
        await server.stop(None)
