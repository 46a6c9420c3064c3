"""Cache report, TTLs, size cap, purge, keys, settings and metrics of the gateway
on a real Redis."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import time
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.cache import AnalysisKey, CacheConfig, SentenceKey, load_price
from gateway.cache.redis_cache import _decode
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.service import test_gateway_cache as _shared
from tests.service.fake_stages import RATE, samples_for
from tests.service.test_gateway_cache import audio_keys, cached_gateway, stream, unary
from tts_common.config import ConfigError
from ttsctl import cache_report

# The Redis fixtures of the cache tests, shared (one redis-server per module).
redis_server = _shared.redis_server
rdb = _shared.rdb

PRICES = """\
currency: EUR
tier: gpu-small
tiers:
  gpu-small: {kind: gpu, instance: test box, price_per_hour: 3.6}
  cpu-small: {kind: cpu, instance: test cpu, price_per_hour: 0.36}
"""


async def _entries(rdb) -> dict[str, float]:
    """Digest -> stored compute_s of every audio entry."""
    out = {}
    for name in await audio_keys(rdb):
        entry = _decode(await rdb.get(name))
        assert entry is not None
        out[name.decode().rsplit(":", 1)[1]] = entry.compute_s
    return out


async def test_report_numbers_match_what_was_sent(
    start_gateway, fake_stages, redis_server, rdb, tmp_path: Path
) -> None:
    """Hits, misses, audio seconds, compute avoided, money and top sentences are
    exactly what the requests made; counters outlive the gateway."""
    table = tmp_path / "prices.yaml"
    table.write_text(PRICES)
    overrides = cached_gateway(redis_server, price_table=str(table), text_previews=True)
    started = time.time()
    gateway = await start_gateway(**overrides)
    await unary(gateway.stub, "一二。三四。")  # 2 misses
    await unary(gateway.stub, "一二。三四。", volume_gain_db=3.0)  # 2 hits
    await stream(gateway.stub, "一二。五六。")  # 1 hit, 1 miss
    await unary(gateway.stub, "七八。", voice="zhiyan_emo")  # 1 miss, other voice
    computed = await _entries(rdb)
    digests = {
        t: SentenceKey(
            "zhitian_emo", "am-rev", "voc-rev", t, "", "", 1.0, RATE
        ).digest()
        for t in ("一二", "三四")
    }
    hit_audio_s = (2 * samples_for("一二") + samples_for("三四")) / RATE
    hit_compute_s = 2 * computed[digests["一二"]] + computed[digests["三四"]]

    report = await gateway.stub.GetCacheReport(gw.GetCacheReportRequest())
    o = report.overall
    assert (o.requests, o.hits, o.misses, o.errors) == (7, 3, 4, 0)
    assert o.hit_rate == pytest.approx(3 / 7)
    assert o.audio_from_cache_s == pytest.approx(hit_audio_s, abs=1e-9)
    assert o.compute_avoided_s == pytest.approx(hit_compute_s, rel=1e-9)
    assert o.money_saved == pytest.approx(hit_compute_s / 3600 * 3.6, rel=1e-9)
    assert o.currency_code == "EUR"
    # Each miss made an entry with its compute time: that is what was spent.
    spent_s = sum(computed.values())
    assert len(computed) == 4 and o.compute_spent_s == pytest.approx(spent_s, rel=1e-9)
    per_1k = 3.6 / 3600 / 7 * 1000  # price per second, per 1,000 of 7 lookups
    assert o.cost_per_1k == pytest.approx(spent_s * per_1k, rel=1e-9)
    assert o.cost_per_1k_without_cache == pytest.approx(
        (spent_s + hit_compute_s) * per_1k, rel=1e-9
    )
    assert [(v.voice, v.hits, v.misses) for v in report.per_voice] == [
        ("zhitian_emo", 3, 3),
        ("zhiyan_emo", 0, 1),
    ]
    top = report.top_sentences[0]
    assert (top.key_hash, top.requests, top.hits) == (digests["一二"], 3, 2)
    assert top.voice == "zhitian_emo" and top.text_preview == "一二"
    assert started - 1 <= report.counting_since.ToNanoseconds() / 1e9 <= time.time()

    windowed = await gateway.stub.GetCacheReport(
        gw.GetCacheReportRequest(window_s=3600, voice="zhiyan_emo", max_top_sentences=1)
    )
    assert windowed.window_s >= 3600
    assert (windowed.overall.requests, windowed.overall.misses) == (1, 1)
    assert [t.voice for t in windowed.top_sentences] == ["zhiyan_emo"]

    await gateway.server.stop(None)
    await gateway.app.close()
    restarted = await start_gateway(**overrides)
    again = await restarted.stub.GetCacheReport(gw.GetCacheReportRequest())
    assert again.overall == report.overall
    assert again.counting_since == report.counting_since


async def test_previews_are_off_unless_enabled(
    start_gateway, redis_server, rdb
) -> None:
    """Without the operator's opt-in the report carries hashes only."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    await unary(gateway.stub, "秘密文本。")
    await unary(gateway.stub, "秘密文本。")
    report = await gateway.stub.GetCacheReport(gw.GetCacheReportRequest())
    assert report.top_sentences[0].requests == 2
    assert report.top_sentences[0].text_preview == ""
    assert "秘密".encode() not in b"".join(
        v for v in (await rdb.hgetall("tts:stats:meta")).values()
    )


async def test_sliding_ttl_on_audio_and_none_on_counters(
    start_gateway, redis_server, rdb
) -> None:
    """Audio entries carry the configured TTL and every hit renews it; report keys
    carry none, so volatile-* eviction can only drop audio."""
    gateway = await start_gateway(**cached_gateway(redis_server, ttl_s=100))
    await unary(gateway.stub, "滑动过期。")
    (name,) = await audio_keys(rdb)
    assert 0 < await rdb.ttl(name) <= 100
    await rdb.pexpire(name, 5000)
    await unary(gateway.stub, "滑动过期。")
    assert await rdb.ttl(name) > 90
    await gateway.stub.GetCacheReport(gw.GetCacheReportRequest())  # flushes counters
    stats = [k async for k in rdb.scan_iter(match="tts:stats:*")]
    assert stats and all([await rdb.ttl(k) == -1 for k in stats])
    assert await rdb.config_get("maxmemory-policy") == {
        "maxmemory-policy": "volatile-lfu"
    }


async def test_purge_by_voice_and_by_revision(start_gateway, redis_server, rdb) -> None:
    """SCAN-based purge removes exactly the matching entries."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    await unary(gateway.stub, "清除一。清除二。")
    await unary(gateway.stub, "清除三。", voice="zhiyan_emo")
    cache = gateway.app.redis_cache
    assert cache is not None
    assert await cache.purge(voice="zhiyan_emo") == 2  # its audio and analysis
    assert len(await audio_keys(rdb)) == 2
    assert await cache.purge(revision="other-rev") == 0
    assert await cache.purge(revision="voc-rev") == 2
    assert await audio_keys(rdb) == []
    assert await cache.purge(revision="fe-rev") == 1  # the analysis of zhitian_emo
    assert await rdb.keys("tts:f:*") == []


def test_checkpoint_change_changes_the_key_but_volume_is_not_in_it() -> None:
    """Every field that changes the PCM changes the digest."""
    key = SentenceKey("v", "a" * 64, "b" * 64, "sym", "happy", "F7", 1.0, 16000)
    changed = [
        dataclasses.replace(key, acoustic_revision="c" * 64),
        dataclasses.replace(key, vocoder_revision="c" * 64),
        dataclasses.replace(key, symbols="sym2"),
        dataclasses.replace(key, emotion="sad"),
        dataclasses.replace(key, speed=1.1),
        dataclasses.replace(key, sample_rate_hz=24000),
        dataclasses.replace(key, voice="w"),
    ]
    digests = {key.digest(), *(k.digest() for k in changed)}
    assert len(digests) == len(changed) + 1
    assert len(key.digest()) == 64
    assert "volume" not in {f.name for f in dataclasses.fields(SentenceKey)}
    base = AnalysisKey("text", False, "v", "", "", "fe-1")
    changed_fe = dataclasses.replace(base, frontend_revision="fe-2")
    assert base.digest() != changed_fe.digest()


def test_price_table_loads_and_rejects_a_missing_tier(tmp_path: Path) -> None:
    """The shipped example parses; a wrong tier names the variables."""
    example = (
        Path(__file__).resolve().parents[2]
        / "gateway"
        / "cache"
        / "pricing_example.yaml"
    )
    price = load_price(str(example))
    assert price.currency == "USD" and price.per_hour > 0
    assert load_price(str(example), "cpu-c7i").per_hour < price.per_hour
    with pytest.raises(ConfigError, match="GATEWAY_PRICE_TIER"):
        load_price(str(example), "no-such-tier")


async def test_metrics_carry_cache_outcomes_and_first_audio(
    start_gateway, redis_server, rdb
) -> None:
    """The gateway registry parses as Prometheus text with the cache series."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    await unary(gateway.stub, "指标。")
    await stream(gateway.stub, "指标。")
    text = generate_latest(gateway.app.metrics.registry).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    voice = (("voice", "zhitian_emo"),)
    assert samples[("tts_cache_hits_total", voice)] == 1
    assert samples[("tts_cache_misses_total", voice)] == 1
    assert ("tts_cache_errors_total", voice) not in samples or samples[
        ("tts_cache_errors_total", voice)
    ] == 0
    ttfa = (("cached", "true"), ("method", "StreamSynthesize"))
    assert samples[("tts_time_to_first_audio_seconds_count", ttfa)] == 1


async def test_ttsctl_cache_report_json_and_text(
    start_gateway, redis_server, rdb, capsys
) -> None:
    """``ttsctl cache-report --json`` prints the issue's keys with the RPC's numbers."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    await unary(gateway.stub, "命令行。")
    await unary(gateway.stub, "命令行。")
    parser = argparse.ArgumentParser()
    cache_report.add_arguments(parser.add_subparsers())
    # The harness keeps no port; the channel knows where it dials.
    address = gateway.channel._channel.target.decode()
    for flags in (["--json"], []):
        args = parser.parse_args(["cache-report", "--server", address, *flags])
        assert await asyncio.to_thread(cache_report.run, args) == 0
    json_out, text_out = capsys.readouterr().out.split("cache report (", 1)
    data = json.loads(json_out)
    overall = data["overall"]
    assert (overall["hits"], overall["misses"], overall["errors"]) == (1, 1, 0)
    assert overall["hit_rate"] == 0.5 and data["per_voice"]["zhitian_emo"]["hits"] == 1
    assert data["top_sentences"][0]["requests"] == 2
    assert "hit rate  50.0%" in text_out


def test_cache_settings_come_from_the_environment() -> None:
    """Every cache variable is read; bad values name the variable."""
    env = {
        "REDIS_URL": "redis://r:6379/0", "GATEWAY_CACHE_TTL_S": "60",
        "GATEWAY_CACHE_MAX_ENTRY_BYTES": "1000", "GATEWAY_CACHE_TIMEOUT_S": "0.2",
        "GATEWAY_CACHE_RETRY_AFTER_S": "2", "GATEWAY_CACHE_LOCK_TTL_S": "5",
        "GATEWAY_CACHE_POLL_S": "0.01", "GATEWAY_CACHE_TEXT_PREVIEWS": "yes",
        "GATEWAY_PRICE_TABLE": "/p.yaml", "GATEWAY_PRICE_TIER": "gpu-l4",
        "GATEWAY_CACHE_MAX_TIMEOUT_S": "0.8",
    }  # fmt: skip
    cfg = CacheConfig.from_env({**env, "GATEWAY_CATALOG_REFRESH_S": "7"})
    assert cfg == CacheConfig(
        redis_url="redis://r:6379/0", ttl_s=60, max_entry_bytes=1000,
        op_timeout_s=0.2, op_max_timeout_s=0.8, retry_after_s=2.0, lock_ttl_s=5.0,
        poll_s=0.01, text_previews=True, catalog_refresh_s=7.0,
        price_table="/p.yaml", price_tier="gpu-l4",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="GATEWAY_CACHE_MAX_TIMEOUT_S"):
        CacheConfig.from_env({"GATEWAY_CACHE_MAX_TIMEOUT_S": "0.05"})
    assert CacheConfig.from_env({}).redis_url is None
    with pytest.raises(ConfigError, match="GATEWAY_CACHE_TTL_S"):
        CacheConfig.from_env({"GATEWAY_CACHE_TTL_S": "0"})


async def test_oversized_sentences_are_served_but_not_stored(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """The per-entry size cap drops the entry, never the audio."""
    gateway = await start_gateway(**cached_gateway(redis_server, max_entry_bytes=100))
    reply = await unary(gateway.stub, "太长了。")
    assert reply.num_samples == samples_for("太长了。")
    assert await audio_keys(rdb) == []


async def test_ttsctl_cache_purge(start_gateway, redis_server, rdb, capsys) -> None:
    """``ttsctl cache-purge`` deletes by voice and refuses an unscoped purge."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    await unary(gateway.stub, "清除命令。", voice="zhiyan_emo")
    parser = argparse.ArgumentParser()
    cache_report.add_arguments(parser.add_subparsers())
    base = ["cache-purge", "--redis", redis_server.url]
    refused = parser.parse_args(base)
    assert await asyncio.to_thread(cache_report.run_purge, refused) == 2
    args = parser.parse_args([*base, "--voice", "zhiyan_emo"])
    assert await asyncio.to_thread(cache_report.run_purge, args) == 0
    assert "deleted 2 cache entries" in capsys.readouterr().out  # audio + analysis
    assert await audio_keys(rdb) == []


async def test_ttsctl_cache_purge_finds_the_redis_of_ttsctl_up(
    start_gateway, redis_server, rdb, capsys, tmp_path, monkeypatch
) -> None:
    """Without --redis or REDIS_URL, purge uses the URL ``ttsctl up`` left in its
    user-only state file; with no live ``up`` it says what to give."""
    from ttsctl import up_state

    gateway = await start_gateway(**cached_gateway(redis_server))
    await unary(gateway.stub, "找到缓存。", voice="zhiyan_emo")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    parser = argparse.ArgumentParser()
    cache_report.add_arguments(parser.add_subparsers())
    args = parser.parse_args(["cache-purge", "--voice", "zhiyan_emo"])
    assert await asyncio.to_thread(cache_report.run_purge, args) == 2
    assert "no `ttsctl up` is running" in capsys.readouterr().err
    state = up_state.state_path()
    up_state.write(state, {"redis_url": redis_server.url})
    assert state.stat().st_mode & 0o777 == 0o600  # it holds the password
    assert await asyncio.to_thread(cache_report.run_purge, args) == 0
    assert "deleted 2 cache entries" in capsys.readouterr().out
    assert await audio_keys(rdb) == []
    up_state.clear(state)
    assert not state.exists()


def test_up_state_of_a_stopped_stack_is_ignored(tmp_path) -> None:
    """A file left by a process that is gone (killed ``up``) is not trusted."""
    import json

    from ttsctl import up_state

    path = tmp_path / "up.json"
    path.write_text(json.dumps({"redis_url": "redis://x", "pid": 2**22 + 12345}))
    assert up_state.read(path) is None
    up_state.clear(path)  # not ours: kept
    assert path.exists()


async def test_no_cache_flag_neither_reads_nor_writes(
    start_gateway, fake_stages, redis_server, rdb
) -> None:
    """``no_cache`` opts one request out: no lookup counted, no entry written."""
    gateway = await start_gateway(**cached_gateway(redis_server))
    await unary(gateway.stub, "不要缓存。", no_cache=True)
    await unary(gateway.stub, "不要缓存。", no_cache=True)
    assert fake_stages.acoustic.seen.calls == 2 and await audio_keys(rdb) == []
    report = await gateway.stub.GetCacheReport(gw.GetCacheReportRequest())
    assert report.overall.requests == 0


async def test_a_flush_writes_one_command_per_counter_not_per_record(rdb) -> None:
    """Back-to-back cached requests queue many records; the flush sums them first,
    so its cost (on the gateway's event loop) does not grow with the record count."""
    from gateway.cache.report import STATS_PREFIX, RedisCacheCounters

    counters = RedisCacheCounters(rdb)
    await rdb.config_resetstat()
    for i in range(200):
        counters.record("v", "hit", audio_s=0.25, compute_s=0.125, digest="d1")
        counters.record("v", "miss", digest=f"d{i % 2}")
    await counters.flush()
    stats = await rdb.info("commandstats")
    written = sum(
        stats.get(f"cmdstat_{c}", {}).get("calls", 0)
        for c in ("hincrby", "hincrbyfloat", "zincrby", "hset")
    )
    assert written <= 22  # 3 scopes x (2 counts + 2 sums) + 3 x 3 ranks + 1 meta
    all_ = await rdb.hgetall(STATS_PREFIX + "all")
    assert int(all_[b"v|hits"]) == 200 and int(all_[b"v|misses"]) == 200
    assert float(all_[b"v|audio_s"]) == pytest.approx(50.0)
    assert float(all_[b"v|compute_s"]) == pytest.approx(25.0)
    assert await rdb.zscore(STATS_PREFIX + "req:all", "d1") == 300
    assert await rdb.zscore(STATS_PREFIX + "hit:all", "d1") == 200
    await counters.close()
