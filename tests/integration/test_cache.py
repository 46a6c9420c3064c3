"""The phrase cache through the whole stack: real processes, real Redis, golden voice.

Tests run in file order on one stack; the last one stops Redis.
"""

from __future__ import annotations

import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import grpc
import numpy as np
import psutil
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from gateway.cache.redis_cache import _decode
from sambert_tts_protos.v1 import (
    audio_pb2,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
)
from tests.golden import GOLDEN
from tts_common.stack import LocalStack

pytestmark = pytest.mark.slow
PCM = audio_pb2.AUDIO_ENCODING_PCM_S16LE
RATE = 16000
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def stack():
    with LocalStack(GOLDEN / "small_causal", startup_timeout_s=240) as running:
        yield running


@pytest.fixture(scope="module")
def stub(stack):
    with grpc.insecure_channel(stack.gateway_address) as channel:
        yield gateway_service_pb2_grpc.GatewayServiceStub(channel)


@pytest.fixture(scope="module")
def rdb(stack):
    client = redis.Redis.from_url(stack.redis_url)
    yield client
    client.close()


def _unary(stub, text, **fields):
    return stub.Synthesize(
        gateway_service_pb2.SynthesizeRequest(text=text, encoding=PCM, **fields),
        timeout=TIMEOUT_S,
    )


def _stream(stub, text, **fields):
    request = gateway_service_pb2.StreamSynthesizeRequest(
        text=text, encoding=PCM, **fields
    )
    call = stub.StreamSynthesize(request, timeout=TIMEOUT_S)
    return [m.chunk for m in call if m.HasField("chunk")]


def _report(stub):
    return stub.GetCacheReport(gateway_service_pb2.GetCacheReportRequest(), timeout=30)


def _audio_keys(rdb) -> set[bytes]:
    return set(rdb.scan_iter(match="tts:a:*"))


def _scrape(stack, name) -> dict[str, float]:
    """Sample name -> summed value, from the service's /metrics."""
    port = stack.processes[name].metrics_port
    url = f"http://127.0.0.1:{port}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name
            if s.name == "grpc_server_handled_total":
                key = f"{s.name}:{s.labels['grpc_method']}"
            out[key] = out.get(key, 0.0) + s.value
    return out


def _stream_mels(stack) -> float:
    return _scrape(stack, "acoustic").get("grpc_server_handled_total:StreamMel", 0.0)


def test_local_redis_requires_its_password(stack, rdb):
    """LocalStack's (ttsctl up's) Redis needs AUTH; the per-run password is on no
    command line and in no log, and the gateway (told through its environment) uses
    the cache. The metrics endpoints listen on loopback, like gRPC."""
    password = urlsplit(stack.redis_url).password
    assert password and len(password) >= 24
    host, port = stack.address("redis").rsplit(":", 1)
    with (
        redis.Redis(host=host, port=int(port)) as anonymous,
        pytest.raises(redis.AuthenticationError),
    ):
        anonymous.ping()
    assert rdb.ping()
    for proc in stack.processes.values():
        assert password not in " ".join(psutil.Process(proc.popen.pid).cmdline())
        assert password not in proc.log_tail(10_000)
        if proc.metrics_port:
            listening = {c.laddr.ip for c in psutil.net_connections(kind="tcp")
                         if c.status == psutil.CONN_LISTEN and c.laddr
                         and c.laddr.port == proc.metrics_port}  # fmt: skip
            assert listening == {"127.0.0.1"}, proc.name


def test_repeat_is_byte_identical_and_the_report_counts_it_exactly(stack, stub, rdb):
    text = "今天天气很好。我们一起去公园散步吧！"
    before_keys, before = _audio_keys(rdb), _report(stub).overall
    first = _unary(stub, text)
    new_keys = _audio_keys(rdb) - before_keys
    assert len(new_keys) == 2
    mels = _stream_mels(stack)
    second = _unary(stub, text)
    assert _stream_mels(stack) == mels  # no model ran
    assert second.audio == first.audio
    assert [s.cached for s in second.sentences] == [True, True]
    entries = [e for k in new_keys if (e := _decode(rdb.get(k))) is not None]
    assert len(entries) == 2
    after = _report(stub).overall
    assert after.misses - before.misses == 2
    assert after.hits - before.hits == 2
    assert after.errors == before.errors
    audio_s = sum(len(e.pcm) for e in entries) / 2 / RATE
    compute_s = sum(e.compute_s for e in entries)
    assert after.audio_from_cache_s - before.audio_from_cache_s == pytest.approx(
        audio_s, abs=1e-6
    )
    assert after.compute_avoided_s - before.compute_avoided_s == pytest.approx(
        compute_s, abs=1e-6
    )
    assert compute_s > 0


def test_half_cached_stream_is_in_order(stack, stub, rdb):
    parts = [
        "明天早上八点出发",
        "他说不想再见到你",
        "这儿的风景真美啊",
        "你到底想怎么样",
    ]
    _unary(stub, f"{parts[0]}。{parts[2]}。")
    text = "。".join(parts) + "。"
    reference = np.frombuffer(_unary(stub, text, no_cache=True).audio, np.int16)
    mels = _stream_mels(stack)
    chunks = _stream(stub, text)
    assert _stream_mels(stack) - mels == 2
    indices = [c.sentence_index for c in chunks]
    assert indices == sorted(indices) and set(indices) == {0, 1, 2, 3}
    ends = [c.sentence for c in chunks if c.last_in_sentence]
    assert [s.cached for s in ends] == [True, False, True, False]
    assert chunks[-1].last_in_stream
    streamed = np.frombuffer(b"".join(c.audio for c in chunks), np.int16)
    assert streamed.size == reference.size
    assert np.abs(streamed.astype(np.int32) - reference).max() <= 1


def test_twenty_concurrent_identical_misses_run_the_acoustic_model_once(stack, stub):
    text = "中华人民共和国成立了。"
    mels = _stream_mels(stack)
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda _: _unary(stub, text), range(20)))
    assert _stream_mels(stack) - mels == 1
    assert len({r.audio for r in replies}) == 1
    assert sum(not r.sentences[0].cached for r in replies) == 1


def test_cancelled_synthesis_leaves_no_entry(stack, stub, rdb):
    text = "一会儿去哪儿看花儿然后我们再一起回家吃饭睡觉明天继续出发去很远的地方旅行"
    before = _audio_keys(rdb)
    call = stub.StreamSynthesize(
        gateway_service_pb2.StreamSynthesizeRequest(text=text, encoding=PCM),
        timeout=TIMEOUT_S,
    )
    for message in call:
        if message.HasField("chunk") and message.chunk.audio:
            assert not message.chunk.last_in_sentence
            break
    call.cancel()
    time.sleep(3.0)  # long enough for the sentence to have finished, were it kept
    assert _audio_keys(rdb) == before
    assert list(rdb.scan_iter(match="tts:lock:*")) == []


def test_key_carries_the_checkpoint_revisions(stub, rdb):
    voices = stub.ListVoices(gateway_service_pb2.ListVoicesRequest(), timeout=30)
    voice = voices.voices[0]
    am, voc = voice.revisions.acoustic, voice.revisions.vocoder
    assert len(am) == len(voc) == 64  # content hashes of the checkpoints
    prefix = f"tts:a:{voice.name}:{am[:12]}:{voc[:12]}:".encode()
    keys = _audio_keys(rdb)
    assert keys and all(k.startswith(prefix) for k in keys)
    assert all(rdb.ttl(k) > 0 for k in keys)
    assert all(rdb.ttl(k) == -1 for k in rdb.scan_iter(match="tts:stats:*"))


def test_metrics_of_every_service(stack):
    common = ("grpc_server_handled_total", "grpc_server_handling_seconds_count",
              "grpc_server_in_flight")  # fmt: skip
    wanted = {
        "gateway": ("tts_cache_hits_total", "tts_cache_misses_total",
                    "tts_time_to_first_audio_seconds_count",
                    "grpc_server_first_message_seconds_count"),
        "frontend": (),
        "acoustic": ("tts_inference_queue_depth", "tts_inference_in_flight",
                     "grpc_server_first_message_seconds_count"),
        "vocoder": ("tts_inference_queue_depth", "tts_vocoder_batch_size_count"),
    }  # fmt: skip
    for name, extra in wanted.items():
        samples = _scrape(stack, name)
        for series in (*common, *extra):
            assert any(k.split(":")[0] == series for k in samples), (name, series)
    assert _scrape(stack, "gateway")["tts_cache_hits_total"] >= 21


def test_redis_stopped_mid_test_loses_no_request(stack, stub):
    cached_text = "今天天气很好。我们一起去公园散步吧！"
    expected = _unary(stub, cached_text).audio
    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(_unary, stub, f"第{i}次停机测试。") for i in range(4)]
        time.sleep(0.05)
        stack.processes["redis"].popen.kill()
        results = [f.result() for f in running]
    results += [_unary(stub, cached_text), _unary(stub, "停机以后的新句子。")]
    chunks = _stream(stub, cached_text)
    assert all(r.num_samples > 0 for r in results) and chunks[-1].last_in_stream
    # The same audio, now synthesized (vocoder batching may move a sample by 1).
    fresh, old = (np.frombuffer(a, np.int16) for a in (results[4].audio, expected))
    assert fresh.size == old.size and np.abs(fresh.astype(np.int32) - old).max() <= 1
    errors = _scrape(stack, "gateway").get("tts_cache_errors_total", 0.0)
    assert errors >= 2
