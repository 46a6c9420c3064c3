"""Typed wrappers over the stage stubs; every call goes through ``call_with_retry``.

A stream that breaks after it was opened raises :class:`StreamBroken` (its replica
marked suspect); :mod:`gateway.stages.failover` re-runs the sentence elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from gateway.stages.deadline import Deadline
from gateway.stages.errors import StageError
from gateway.stages.replicas import ReplicaSet
from gateway.stages.retry import RetryPolicy, call_with_retry
from sambert_tts_protos.v1 import (
    acoustic_service_pb2,
    acoustic_service_pb2_grpc,
    audio_pb2,
    frontend_service_pb2,
    frontend_service_pb2_grpc,
    vocoder_service_pb2,
    vocoder_service_pb2_grpc,
)
from tts_common.interceptors import REQUEST_ID_HEADER

__all__ = [
    "AcousticClient",
    "FrontendClient",
    "MelStream",
    "VocodeStream",
    "VocoderClient",
]


def _stub(cls: Any, channel: grpc.aio.Channel) -> Any:
    """A generated stub; ``_pb2_grpc`` is untyped, so this is the one place it shows."""
    return cls(channel)


_Attempt = Callable[[grpc.aio.Channel, float], Awaitable[Any]]


def _metadata(request_id: str) -> tuple[tuple[str, str], ...]:
    return ((REQUEST_ID_HEADER, request_id),)


class _StageClient:
    """One stage's replicas and retry policy; ``_STUB`` is its generated stub class."""

    _STUB: Any

    def __init__(self, replicas: ReplicaSet, policy: RetryPolicy) -> None:
        """Wrap the stage's replicas."""
        self.replicas, self._policy = replicas, policy

    def _get_model_info(self, request: Any) -> _Attempt:
        """One attempt at the stage's ``GetModelInfo`` (for ``call_with_retry``)."""

        async def attempt(channel: grpc.aio.Channel, timeout: float) -> Any:
            stub = _stub(self._STUB, channel)
            return await stub.GetModelInfo(request, timeout=timeout)

        return attempt


class FrontendClient(_StageClient):
    """Text analysis calls (unary, so every failure before the answer may retry)."""

    _STUB = frontend_service_pb2_grpc.FrontendServiceStub

    async def analyze(
        self,
        request: frontend_service_pb2.AnalyzeRequest,
        deadline: Deadline,
        request_id: str,
    ) -> frontend_service_pb2.AnalyzeResponse:
        """Split and analyze the whole text once."""

        async def attempt(channel: grpc.aio.Channel, timeout: float) -> Any:
            stub = _stub(self._STUB, channel)
            return await stub.Analyze(
                request, timeout=timeout, metadata=_metadata(request_id)
            )

        return await call_with_retry(self.replicas, self._policy, deadline, attempt)

    async def model_info(
        self, deadline: Deadline
    ) -> frontend_service_pb2.FrontendServiceGetModelInfoResponse:
        """The frontend's voices, revision and text limit."""
        request = frontend_service_pb2.FrontendServiceGetModelInfoRequest()
        attempt = self._get_model_info(request)
        return await call_with_retry(self.replicas, self._policy, deadline, attempt)


class _Replica:
    """Where a stream runs, so a failure mid-way can be blamed on its replica."""

    def __init__(self, replicas: ReplicaSet, channel: grpc.aio.Channel) -> None:
        self.replicas, self.index = replicas, replicas.index_of(channel)

    def error(self, exc: grpc.aio.AioRpcError) -> StageError:
        return self.replicas.stream_error(self.index, exc)


class _StageStream:
    """An open stage stream: read its messages to EOF, blaming failures on the replica."""

    def __init__(self, call: Any, replica: _Replica) -> None:
        self.call, self._replica = call, replica

    async def _messages(self) -> AsyncIterator[Any]:
        while True:
            try:
                message = await self.call.read()
            except grpc.aio.AioRpcError as exc:
                raise self._replica.error(exc) from None
            if message is grpc.aio.EOF:
                return
            yield message

    def cancel(self) -> None:
        """Cancel the stream (no-op when finished); the stage sees CANCELLED."""
        self.call.cancel()


class MelStream(_StageStream):
    """An open acoustic stream whose header has arrived; iterate for its chunks."""

    def __init__(
        self, call: Any, header: audio_pb2.MelHeader, replica: _Replica
    ) -> None:
        """Wrap a call whose first message (``header``) was read."""
        super().__init__(call, replica)
        self.header = header

    async def chunks(self) -> AsyncIterator[audio_pb2.MelChunk]:
        """The mel chunks in order, as the stage emits them."""
        async for message in self._messages():
            yield message.chunk


class AcousticClient(_StageClient):
    """Mel streams, retried on another replica until the header has arrived."""

    _STUB = acoustic_service_pb2_grpc.AcousticServiceStub

    async def open(
        self,
        request: acoustic_service_pb2.StreamMelRequest,
        deadline: Deadline,
        request_id: str,
    ) -> MelStream:
        """Start one sentence's mel stream and wait for its header."""

        async def attempt(channel: grpc.aio.Channel, timeout: float) -> MelStream:
            stub = _stub(self._STUB, channel)
            call = stub.StreamMel(
                request, timeout=timeout, metadata=_metadata(request_id)
            )
            try:
                first = await call.read()
            except BaseException:
                call.cancel()
                raise
            if first is grpc.aio.EOF or not first.HasField("header"):
                call.cancel()
                raise StageError("INTERNAL", "acoustic stage sent no mel header")
            return MelStream(call, first.header, _Replica(self.replicas, channel))

        return await call_with_retry(self.replicas, self._policy, deadline, attempt)

    async def model_info(
        self, deadline: Deadline
    ) -> acoustic_service_pb2.AcousticServiceGetModelInfoResponse:
        """Voices, revisions and mel geometry of the acoustic stage."""
        request = acoustic_service_pb2.AcousticServiceGetModelInfoRequest()
        attempt = self._get_model_info(request)
        return await call_with_retry(self.replicas, self._policy, deadline, attempt)


class VocodeStream(_StageStream):
    """An open vocoder stream: send mel chunks, read the header and PCM chunks.

    Built on a call whose config was sent.
    """

    async def send(self, chunk: audio_pb2.MelChunk) -> None:
        """Forward one mel chunk."""
        try:
            await self.call.write(vocoder_service_pb2.StreamVocodeRequest(mel=chunk))
        except grpc.aio.AioRpcError as exc:
            raise self._replica.error(exc) from None
        except asyncio.InvalidStateError:
            # The stage already ended the call; its status surfaces in responses().
            return

    async def done_writing(self) -> None:
        """Half-close: no more mel for this sentence."""
        try:
            await self.call.done_writing()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return  # as in send(): responses() reports the stage's status

    async def responses(
        self,
    ) -> AsyncIterator[vocoder_service_pb2.StreamVocodeResponse]:
        """The header, then PCM chunks in order."""
        async for message in self._messages():
            yield message


class VocoderClient(_StageClient):
    """Vocoder streams, retried on another replica until the connection is up."""

    _STUB = vocoder_service_pb2_grpc.VocoderServiceStub

    async def open(
        self,
        config: vocoder_service_pb2.VocodeConfig,
        deadline: Deadline,
        request_id: str,
    ) -> VocodeStream:
        """Start one sentence's vocoder stream and send its config."""

        async def attempt(channel: grpc.aio.Channel, timeout: float) -> VocodeStream:
            stub = _stub(self._STUB, channel)
            call = stub.StreamVocode(timeout=timeout, metadata=_metadata(request_id))
            try:
                await call.write(vocoder_service_pb2.StreamVocodeRequest(config=config))
                # Committed once the stage has the call: no mel was sent before this,
                # so a replica that cannot be reached is retried with nothing to replay.
                await call.wait_for_connection()
            except asyncio.InvalidStateError:
                raise grpc.aio.AioRpcError(
                    await call.code(),
                    grpc.aio.Metadata(),
                    grpc.aio.Metadata(),
                    await call.details(),
                ) from None
            except BaseException:
                call.cancel()
                raise
            return VocodeStream(call, _Replica(self.replicas, channel))

        return await call_with_retry(self.replicas, self._policy, deadline, attempt)

    async def model_info(
        self, deadline: Deadline
    ) -> vocoder_service_pb2.VocoderServiceGetModelInfoResponse:
        """Voices, revisions and sample rates of the vocoder stage."""
        request = vocoder_service_pb2.VocoderServiceGetModelInfoRequest()
        attempt = self._get_model_info(request)
        return await call_with_retry(self.replicas, self._policy, deadline, attempt)
