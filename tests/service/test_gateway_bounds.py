"""Every input and unit of work of the gateway is bounded: report windows and top
counts, request ids, the audio a request may make, the size of a unary reply and of
a request, and a deadline too short for the text (which says what to set)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest

from gateway.cache import MAX_WINDOW_S
from gateway.cache import report as report_module
from gateway.cache.report import STATS_PREFIX, RedisCacheCounters
from gateway.config import GatewayConfig
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service import test_gateway_cache as _shared
from tests.service.fake_stages import FakeStages
from tts_common.config import ServerConfig, text_request_bytes
from tts_common.errors import NotReady

redis_server = _shared.redis_server
rdb = _shared.rdb

TIMEOUT_S = 10.0
_INVALID = grpc.StatusCode.INVALID_ARGUMENT
_WAV = audio_pb2.AUDIO_ENCODING_WAV


async def _error(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


async def _stream_error(call) -> tuple[grpc.aio.AioRpcError, int]:
    """The stream's error and how many messages came before it."""
    received: list[object] = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _read_into(call, received)
    return info.value, len(received)


async def _read_into(call, received: list[object]) -> None:
    async for message in call:
        received.append(message)


# --- cache report: ranges and bounded work ----------------------------------------


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"window_s": 2**32 - 1}, "window_s 4294967295 is out of range; use 1 to "
                                  "2592000 seconds (30 days), or 0 for everything"),
        ({"window_s": MAX_WINDOW_S + 1}, "window_s 2592001 is out of range"),
        ({"max_top_sentences": 101}, "max_top_sentences 101 is out of range; use 0 "
                                     "to 100 (0 means 10)"),
        ({"max_top_sentences": 2**32 - 1}, "use 0 to 100"),
    ],
)  # fmt: skip
async def test_report_ranges_are_enforced(start_gateway, fields, fragment) -> None:
    """Out of range: INVALID_ARGUMENT naming the range; the edges are accepted."""
    gateway = await start_gateway()
    error = await _error(
        gateway.stub.GetCacheReport(gw.GetCacheReportRequest(**fields), timeout=5)
    )
    assert error.code() == _INVALID and fragment in error.details()
    edges = gw.GetCacheReportRequest(window_s=MAX_WINDOW_S, max_top_sentences=100)
    await gateway.stub.GetCacheReport(edges, timeout=5)


def _past(counters: RedisCacheCounters, at: float, voice: str, outcome: str) -> None:
    """Queue a record made at ``at`` (epoch seconds), as if it had been served then."""
    counters._pending.append((at, voice, outcome, 1.0, 0.5, f"d-{voice}", ""))


async def test_a_30_day_report_reads_hours_not_43200_minutes(rdb) -> None:
    """Whole hours come from hour buckets: a 30-day window reads at most 60 + 60
    minute hashes and 720 hour hashes (it read 43,201 before), ranks the sentences
    in Redis, and leaves no temporary key behind."""
    counters = RedisCacheCounters(rdb)
    now = time.time()
    for days in (0.001, 1, 10, 29.5, 31):  # the last one is outside the window
        _past(counters, now - days * 86400, "a", "hit")
    _past(counters, now - 5 * 86400, "b", "miss")
    await counters.flush()
    await rdb.set(STATS_PREFIX + "hours_since", 0)  # counting hours for long
    await rdb.config_resetstat()
    started = time.perf_counter()
    reply = await counters.report(gw.GetCacheReportRequest(window_s=MAX_WINDOW_S))
    elapsed = time.perf_counter() - started
    stats = await rdb.info("commandstats")
    assert stats["cmdstat_hgetall"]["calls"] <= 60 + 60 + 720 + 1
    assert stats["cmdstat_zunionstore"]["calls"] == 2
    assert "cmdstat_zrange" not in stats  # no sorted set is read whole
    assert (reply.overall.hits, reply.overall.misses) == (4, 1)
    assert [(t.key_hash, t.requests, t.hits) for t in reply.top_sentences] == [
        ("d-a", 4, 4), ("d-b", 1, 0)
    ]  # fmt: skip
    assert reply.window_s >= MAX_WINDOW_S
    assert [k async for k in rdb.scan_iter(match=STATS_PREFIX + "tmp:*")] == []
    assert elapsed < 2.0, f"a 30-day report took {elapsed:.2f} s"
    await counters.close()


async def test_minutes_from_before_hour_buckets_still_count(rdb) -> None:
    """Counters written before hour buckets existed (minute buckets only) are read
    from their minutes: an upgrade loses nothing from its reports."""
    counters = RedisCacheCounters(rdb)
    now = time.time()
    _past(counters, now - 3 * 86400, "a", "hit")
    _past(counters, now - 2 * 3600, "a", "miss")
    await counters.flush()
    async for key in rdb.scan_iter(match=STATS_PREFIX + "*h:*"):
        await rdb.delete(key)  # as an older gateway wrote them
    await rdb.set(STATS_PREFIX + "hours_since", int(now // 60))
    reply = await counters.report(gw.GetCacheReportRequest(window_s=7 * 86400))
    assert (reply.overall.hits, reply.overall.misses) == (1, 1)
    assert [(t.requests, t.hits) for t in reply.top_sentences] == [(2, 1)]
    await counters.close()


async def test_a_slow_report_does_not_say_redis_is_unreachable(
    rdb, monkeypatch
) -> None:
    """A report that runs out of time says so (and what to do), not "unreachable"."""
    monkeypatch.setattr(report_module, "_REPORT_TIMEOUT_S", 0.0)
    counters = RedisCacheCounters(rdb)
    with pytest.raises(NotReady) as info:
        await counters.report(gw.GetCacheReportRequest(window_s=3600))
    assert "did not finish within" in info.value.message
    assert "unreachable" not in info.value.message


# --- request ids ------------------------------------------------------------------


@pytest.mark.parametrize("request_id", ["请求-1", "caf\u00e9", "tab\there", "x" * 129])
async def test_request_ids_must_be_printable_ascii(start_gateway, request_id) -> None:
    """Non-ASCII ids were answered INTERNAL ("Invalid metadata") when echoed."""
    gateway = await start_gateway()
    request = gw.SynthesizeRequest(text="你好。", request_id=request_id)
    error = await _error(gateway.stub.Synthesize(request, timeout=TIMEOUT_S))
    assert error.code() == _INVALID
    assert "request_id must be 1 to 128 printable ASCII" in error.details()
    ok = gw.SynthesizeRequest(text="你好。", request_id="ok-1 ~!")
    reply = await gateway.stub.Synthesize(ok, timeout=TIMEOUT_S)
    assert reply.request_id == "ok-1 ~!"


# --- total audio and reply size ---------------------------------------------------


async def test_audio_over_the_limit_is_refused_before_any_audio(
    start_gateway, fake_stages: FakeStages
) -> None:
    """Breaks count: five sentences with a second of silence each pass a 5 s limit
    (estimate: 5 x 1 s + 5 symbols x 0.2 s), and the request is refused after the
    analysis, before any sentence reaches the acoustic stage."""
    fake_stages.frontend.break_after_ms = 1000
    gateway = await start_gateway(max_audio_s=5.0, max_symbol_s=0.2)
    text = "一二。" * 5
    error = await _error(
        gateway.stub.Synthesize(gw.SynthesizeRequest(text=text), timeout=TIMEOUT_S)
    )
    assert error.code() == _INVALID
    assert "could make up to 6 s of audio (breaks included), over the limit of 5 s" in (
        error.details()
    )
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text=text), timeout=TIMEOUT_S
    )
    error, received = await _stream_error(call)
    assert error.code() == _INVALID and received == 0
    assert fake_stages.acoustic.seen.calls == 0
    reply = await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="一二。" * 4), timeout=TIMEOUT_S
    )
    assert reply.duration_ms >= 4000


async def test_a_unary_reply_that_would_not_fit_stops_early(
    start_gateway, fake_stages: FakeStages
) -> None:
    """10 s of 48 kHz WAV per sentence passes a 1 MiB reply limit at the second
    sentence: refused then, naming the way out, instead of building the whole reply
    and failing to send it; the same request streams fine."""
    fake_stages.frontend.break_after_ms = 10_000
    server = ServerConfig(
        host="127.0.0.1", port=0, grace_s=0.5, max_message_bytes=1 << 20
    )
    gateway = await start_gateway(server=server)
    fields: dict[str, Any] = {
        "text": "一。二。三。四。五。六。",
        "encoding": _WAV,
        "sample_rate_hz": 48000,
    }
    error = await _error(
        gateway.stub.Synthesize(gw.SynthesizeRequest(**fields), timeout=TIMEOUT_S)
    )
    assert error.code() == _INVALID
    assert "limit of one Synthesize reply; use StreamSynthesize" in error.details()
    assert fake_stages.acoustic.seen.calls < 6
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(**fields), timeout=TIMEOUT_S
    )
    audio = b"".join([m.chunk.audio async for m in call])
    assert len(audio) > 6 * 10 * 48000 * 2


# --- request size -----------------------------------------------------------------


def test_receive_limits_default_to_each_service_requests() -> None:
    """The gateway takes text (4,096 characters: 64 KiB), the frontend a few times
    its 5,000 characters, the acoustic stage symbols; send limits stay large."""
    from acoustic_svc.config import AcousticConfig
    from frontend_svc.config import FrontendConfig
    from vocoder_svc.config import VocoderConfig

    env = {"FRONTEND_ADDR": "f:1", "ACOUSTIC_ADDR": "a:1", "VOCODER_ADDR": "v:1"}
    gateway = GatewayConfig.from_env(env).server
    assert gateway.max_receive_bytes == text_request_bytes(4096) == 64 << 10
    assert gateway.max_message_bytes == 64 << 20
    longer = GatewayConfig.from_env({**env, "GATEWAY_MAX_TEXT_CHARS": "50000"})
    assert longer.server.max_receive_bytes == text_request_bytes(50_000) > 200_000
    assert FrontendConfig.from_env({}).server.max_receive_bytes == text_request_bytes(
        5000
    )
    models = {"ACOUSTIC_MODEL_DIR": "/m", "VOCODER_MODEL_DIR": "/m"}
    assert AcousticConfig.from_env(models).server.max_receive_bytes == 1 << 20
    assert VocoderConfig.from_env(models).server.max_receive_bytes == 64 << 20
    with pytest.raises(ValueError, match="GATEWAY_MAX_RECEIVE_BYTES must be at least"):
        GatewayConfig.from_env({**env, "GATEWAY_MAX_RECEIVE_BYTES": "20000"})


async def test_a_request_larger_than_the_limit_is_refused_by_size(
    start_gateway,
) -> None:
    """A 300 KB request never reaches our code (RESOURCE_EXHAUSTED from gRPC, not
    INTERNAL); one of 2,000 characters fits."""
    server = ServerConfig(
        host="127.0.0.1",
        port=0,
        grace_s=0.5,
        max_receive_bytes=text_request_bytes(2000),
    )
    gateway = await start_gateway(server=server)
    big = gw.SynthesizeRequest(text="好" * 100_000)
    error = await _error(gateway.stub.Synthesize(big, timeout=TIMEOUT_S))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    longest = gw.SynthesizeRequest(text="好" * 1999 + "。")
    await gateway.stub.Synthesize(longest, timeout=TIMEOUT_S)


# --- deadlines --------------------------------------------------------------------


async def test_a_deadline_too_short_for_the_text_says_what_to_set(
    start_gateway, fake_stages: FakeStages
) -> None:
    """The gateway answers before the caller's deadline, with the deadline its text
    needs (from the pace it measured), instead of a bare "Deadline Exceeded"."""
    gateway = await start_gateway()
    await gateway.stub.Synthesize(
        gw.SynthesizeRequest(text="第一句。第二句。"), timeout=TIMEOUT_S
    )
    assert gateway.app.servicer.pace.per_char_s is not None
    fake_stages.acoustic.gates["慢"] = asyncio.Event()  # never set: a stuck stage
    slow = gw.SynthesizeRequest(text="很慢的一句话。" * 3)
    error = await _error(gateway.stub.Synthesize(slow, timeout=1.0))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    details = error.details()
    assert "the deadline (1.0 s) was too short for 21 characters" in details
    assert "s per character, so set a deadline of at least" in details
    assert "StreamSynthesize" in details
    call = gateway.stub.StreamSynthesize(
        gw.StreamSynthesizeRequest(text="很慢的一句话。"), timeout=1.0
    )
    error, received = await _stream_error(call)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "was too short for 7 characters" in error.details() and received >= 1
