"""Mid-stream failover on fake stages: a sentence whose acoustic or vocoder stream
breaks after some of its audio went out is re-run on another replica, the samples
already sent are skipped, and the caller gets exactly the undisturbed audio."""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
import numpy as np
import pytest

from gateway.stages import (
    Deadline,
    FailoverPolicy,
    SentenceRun,
    StageError,
    StreamBroken,
    resumed,
)
from sambert_tts_protos.v1 import acoustic_service_pb2, audio_pb2, vocoder_service_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service import test_gateway_cache as _shared
from tests.service.fake_stages import split_sentences
from tests.service.test_gateway_cache import audio_keys, cached_gateway, unary
from tests.service.test_gateway_failures import _unavailable, _until

# The Redis fixtures of the cache tests, shared (one redis-server per module).
redis_server = _shared.redis_server
rdb = _shared.rdb

TIMEOUT_S = 10.0
TEXT = "你好世界。今天天气很好。"
_SENTENCES = split_sentences(TEXT)


def failovers(harness, stage: str) -> float:
    """The gateway's ``tts_gateway_failovers_total{stage}``."""
    registry = harness.app.metrics.registry
    value = registry.get_sample_value("tts_gateway_failovers_total", {"stage": stage})
    return value or 0.0


async def stream_audio(stub, text: str = TEXT, **fields) -> bytes:
    """All audio of one StreamSynthesize call."""
    call = stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=text, **fields), timeout=TIMEOUT_S
    )
    return b"".join([m.chunk.audio async for m in call if m.HasField("chunk")])


async def read_until_held_audio(call, held) -> list[bytes]:
    """Read until audio of a sentence that ``held`` (a fake acoustic) is holding
    has reached the caller; returns the audio read so far."""
    audio: list[bytes] = []
    while True:
        message = await call.read()
        assert message is not grpc.aio.EOF, "no sentence ran on the held replica"
        if message.HasField("chunk"):
            audio.append(message.chunk.audio)
            if _SENTENCES[message.chunk.sentence_index] in held.seen.started:
                return audio


async def rest_audio(call) -> list[bytes]:
    """The audio of the messages still to come, read to the end."""
    audio = []
    while (message := await call.read()) is not grpc.aio.EOF:
        if message.HasField("chunk"):
            audio.append(message.chunk.audio)
    return audio


async def test_acoustic_replica_dies_mid_sentence(
    start_gateway, fake_stages, caplog
) -> None:
    """The acoustic replica dies after a sentence's first audio reached the caller:
    another replica re-runs it and the caller gets the undisturbed audio exactly;
    the failover is counted and logged at INFO without the text."""
    caplog.set_level(logging.INFO, logger="gateway")
    reference = await stream_audio((await start_gateway()).stub)
    dying, held = fake_stages.servers[1], fake_stages.acoustic
    other, other_server = await fake_stages.replica("acoustic")
    held.gates[""] = asyncio.Event()  # its sentences stop after their first chunk
    gateway = await start_gateway(acoustic_addrs=(dying.addr, other_server.addr))
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=TEXT), timeout=TIMEOUT_S
    )
    audio = await read_until_held_audio(call, held)
    await dying.server.stop(None)  # connections drop: a crash, not an error status
    audio += await rest_audio(call)
    assert b"".join(audio) == reference
    assert failovers(gateway, "acoustic") == 1
    assert gateway.app.replicas[1].suspects() == [dying.addr]
    assert set(held.seen.started) <= set(other.seen.started)  # re-run there
    logged = [r for r in caplog.records if r.name == "gateway.stages.failover"]
    assert len(logged) == 1 and logged[0].levelno == logging.INFO
    assert logged[0].args[3] > 0  # samples already sent, then skipped
    assert not any(s in logged[0].getMessage() for s in _SENTENCES)


async def test_vocoder_dies_after_chunks_and_the_cache_gets_the_whole_sentence(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """A vocoder replica crashes after two chunks of a stream: the audio equals an
    undisturbed run, and the cache holds the complete sentences (a repeat is
    served from it, byte-identical, without any stage call)."""
    reference = await stream_audio((await start_gateway()).stub, no_cache=True)
    dying = fake_stages.vocoder
    _, other = await fake_stages.replica("vocoder")
    dying.crash_after = 2
    gateway = await start_gateway(
        vocoder_addrs=(fake_stages.addrs[2], other.addr),
        **cached_gateway(redis_server),
    )
    assert await stream_audio(gateway.stub) == reference
    assert failovers(gateway, "vocoder") >= 1
    assert len(await audio_keys(rdb)) == len(_SENTENCES)
    calls = fake_stages.acoustic.seen.calls
    repeat = await unary(gateway.stub, TEXT)
    assert repeat.audio == reference and all(s.cached for s in repeat.sentences)
    assert fake_stages.acoustic.seen.calls == calls


async def test_both_vocoder_replicas_die_is_unavailable_and_nothing_cached(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """With every vocoder replica gone mid-stream the caller gets UNAVAILABLE with
    a message naming the stage; no partial sentence reaches the cache."""
    _, other = await fake_stages.replica("vocoder")
    gateway = await start_gateway(
        vocoder_addrs=(fake_stages.addrs[2], other.addr),
        **cached_gateway(redis_server),
    )
    for servicer in (fake_stages.vocoder, _):
        servicer.crash_after = 1
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stream_audio(gateway.stub)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    details = error.value.details()
    assert "vocoder" in details and "retry later" in details
    assert await audio_keys(rdb) == []


async def test_failovers_per_sentence_are_bounded(start_gateway, fake_stages) -> None:
    """A sentence whose stream keeps breaking is re-run at most
    ``failover_retries`` times, then the caller gets UNAVAILABLE saying so."""
    fake_stages.acoustic.failures["天气"] = grpc.StatusCode.UNAVAILABLE
    for retries in (2, 0):
        before = fake_stages.acoustic.seen.started.count(_SENTENCES[1])
        gateway = await start_gateway(failover_retries=retries)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stream_audio(gateway.stub)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        assert f"gave up after {retries} failovers" in error.value.details()
        runs = fake_stages.acoustic.seen.started.count(_SENTENCES[1]) - before
        assert runs == retries + 1
        assert failovers(gateway, "acoustic") == retries


async def test_failover_stays_inside_the_callers_deadline(
    start_gateway, fake_stages
) -> None:
    """A re-run that cannot finish is ended at the caller's deadline: the caller gets
    DEADLINE_EXCEEDED on time and the replica's stream is cancelled.

    The deadline must leave time for the first audio, and "on time" needs a margin.
    Both scale with an undisturbed call timed on this gateway just before (1.5 s at
    least, as they always were), so that a loaded machine can neither make the first
    audio miss the deadline nor make the status look late."""
    dying, held = fake_stages.servers[1], fake_stages.acoustic
    other, other_server = await fake_stages.replica("acoustic")
    gateway = await start_gateway(acoustic_addrs=(dying.addr, other_server.addr))
    began = time.monotonic()
    await stream_audio(gateway.stub)  # undisturbed, over both replicas
    deadline_s = max(1.5, 10 * (time.monotonic() - began))
    held.seen.started.clear()  # only the sentences of the call below count
    held.gates[""] = asyncio.Event()
    started = time.monotonic()
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=TEXT), timeout=deadline_s
    )
    await read_until_held_audio(call, held)
    for sentence in held.seen.started:
        other.gates[sentence] = asyncio.Event()  # never set: its re-run stalls too
    await dying.server.stop(None)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await rest_audio(call)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2 * deadline_s
    assert failovers(gateway, "acoustic") == 1
    await asyncio.wait_for(other.seen.cancelled.wait(), TIMEOUT_S)


async def test_failed_replica_is_avoided_until_healthy_again(
    start_gateway, fake_stages, caplog
) -> None:
    """After a failover the crashed replica gets no calls (no retry is spent on it);
    restarted at its address it passes the health probe and takes calls again."""
    caplog.set_level(logging.WARNING, logger="gateway")
    reference = await stream_audio((await start_gateway()).stub)
    crashing = fake_stages.servers[2]
    _, other = await fake_stages.replica("vocoder")
    gateway = await start_gateway(
        vocoder_addrs=(crashing.addr, other.addr), replica_probe_s=0.05
    )
    fake_stages.vocoder.crash_after = 1
    assert await stream_audio(gateway.stub) == reference
    replicas = gateway.app.replicas[2]
    assert replicas.suspects() == [crashing.addr]
    for _ in range(2):
        assert await stream_audio(gateway.stub) == reference
    assert "unavailable" not in caplog.text  # never tried while suspect
    port = int(crashing.addr.rsplit(":", 1)[1])
    restarted, _ = await fake_stages.replica("vocoder", port=port)
    await _until(lambda: not replicas.suspects(), "health probe clearing the suspect")
    assert await stream_audio(gateway.stub) == reference
    assert restarted.seen.calls == 1  # one of the two sentences, round robin


async def test_invalid_argument_mid_stream_passes_through_without_failover(
    start_gateway, fake_stages
) -> None:
    """A status about the request itself is no replica failure: unchanged, once."""
    fake_stages.acoustic.failures["天气"] = grpc.StatusCode.INVALID_ARGUMENT
    gateway = await start_gateway(failover_retries=2)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stream_audio(gateway.stub)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "acoustic stage: fake acoustic failure" in error.value.details()
    assert fake_stages.acoustic.seen.started.count(_SENTENCES[1]) == 1
    assert failovers(gateway, "acoustic") == 0
    assert gateway.app.replicas[1].suspects() == []


def _run(deadline_s: float = TIMEOUT_S) -> SentenceRun:
    request = acoustic_service_pb2.StreamMelRequest(symbols="x", voice="v")
    # No stage clients: the chains these tests build never call them.
    return SentenceRun(request, Deadline(deadline_s), "rid", 16000, None, None)  # type: ignore[arg-type]


def _chain(run: SentenceRun, attempts: list[tuple[int, str]]):
    """A chain whose n-th start yields ``attempts[n][0]`` samples made by vocoder
    revision ``attempts[n][1]``, breaking after the first half unless it is last."""
    started: list[int] = []

    async def chain():
        size, revision = attempts[len(started)]
        started.append(size)
        run.vocode_header = vocoder_service_pb2.VocodeHeader(revision=revision)
        run.mel_header = audio_pb2.MelHeader(revision="am")
        pcm = np.arange(size, dtype=np.int16)
        yield pcm[: size // 2]
        if len(started) < len(attempts):
            raise StreamBroken("vocoder", "a:1", _unavailable())
        yield pcm[size // 2 :]

    return chain, started


async def _collect(run: SentenceRun, chain, retries: int = 2) -> np.ndarray:
    pieces = [p async for p in resumed(chain, run, FailoverPolicy(retries), 0)]
    return np.concatenate(pieces)


async def test_resume_skips_exactly_what_was_sent() -> None:
    """Each re-run starts over; only the samples not yet handed on come out."""
    run = _run()
    chain, started = _chain(run, [(10, "v1"), (10, "v1"), (10, "v1")])
    assert np.array_equal(await _collect(run, chain), np.arange(10, dtype=np.int16))
    assert started == [10, 10, 10]


async def test_resume_refuses_to_splice_other_revisions_or_shorter_audio() -> None:
    """A re-run by another vocoder revision, or one shorter than the audio already
    sent, is an UNAVAILABLE error rather than a splice."""
    run = _run()
    chain, _ = _chain(run, [(10, "v1"), (10, "v2")])
    with pytest.raises(StageError, match="revisions am/v2, not am/v1"):
        await _collect(run, chain)
    chain, _ = _chain(run, [(10, "v1"), (4, "v1")])
    with pytest.raises(StageError, match="1 samples shorter"):
        await _collect(run, chain)


async def test_no_rerun_once_the_deadline_has_passed() -> None:
    """A stream that breaks after the deadline is not re-run: DEADLINE_EXCEEDED."""
    run = _run(deadline_s=0.0)
    chain, started = _chain(run, [(10, "v1"), (10, "v1")])
    with pytest.raises(StageError) as error:
        await _collect(run, chain)
    assert error.value.status == "DEADLINE_EXCEEDED" and started == [10]
