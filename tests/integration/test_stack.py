"""The whole stack as real processes over real sockets (LocalStack, real Redis)."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from sambert_tts_protos.v1 import (
    audio_pb2,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
)
from tests.golden import GOLDEN
from tts_common.stack import LocalStack, health_status

pytestmark = pytest.mark.slow

TWO_SENTENCES = "今天天气很好。我们一起去公园散步吧！"
MANY_SENTENCES = (
    "。".join(
        [
            "今天天气很好",
            "我们一起去公园散步吧",
            "明天早上八点出发",
            "他说不想再见到你",
            "一会儿去哪儿看花儿",
            "这儿的风景真美啊",
            "你到底想怎么样",
            "中华人民共和国成立了",
        ]
    )
    + "。"
)
LONG_SENTENCES = ("中华人民共和国成立于一九四九年十月一日，它的首都是北京，这是一座历史悠久"
                  "的城市，每年都有很多游客来这里参观。我们明天早上八点在学校门口集合，然后"
                  "一起坐大巴车去郊外的森林公园，中午在湖边野餐，下午爬山看风景，傍晚再坐车"
                  "回来。")  # fmt: skip
"""Two sentences of over 120 symbols: each keeps a stage busy many times longer than
a cancellation takes to reach it (with short ones a hang-up may find their calls
already done, and nothing to cancel)."""


@pytest.fixture(scope="module")
def stack():
    with LocalStack(GOLDEN / "small_causal", startup_timeout_s=240) as running:
        yield running


@pytest.fixture
def gateway(stack):
    with grpc.insecure_channel(stack.gateway_address) as channel:
        yield gateway_service_pb2_grpc.GatewayServiceStub(channel)


def _pcm(stub, text, stream, **fields):
    kwargs = dict(text=text, encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE, **fields)
    if stream:
        parts = [
            m.chunk.audio
            for m in stub.StreamSynthesize(
                gateway_service_pb2.StreamSynthesizeRequest(**kwargs), timeout=120
            )
            if m.HasField("chunk")
        ]
        return np.frombuffer(b"".join(parts), np.int16)
    reply = stub.Synthesize(
        gateway_service_pb2.SynthesizeRequest(**kwargs), timeout=120
    )
    return np.frombuffer(reply.audio, np.int16)


def _counter(stack, name, sample, **labels) -> float:
    port = stack.processes[name].metrics_port
    # A stage busy synthesizing on a loaded machine may answer a scrape slowly.
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60).read()
    total = 0.0
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            if s.name == sample and all(
                s.labels.get(k) == v for k, v in labels.items()
            ):
                total += s.value
    return total


def wait_until(
    condition: Callable[[], bool], what: str, timeout_s: float = 120
) -> None:
    """Poll ``condition`` until it holds. The limit is generous on purpose: it only
    turns a hang into a failure; how fast a loaded machine gets there is not tested."""
    limit = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < limit, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.1)


_STAGE_CALLS = {"acoustic": "StreamMel", "vocoder": "StreamVocode"}
"""The per-sentence call of each model stage."""


def _stage_calls(stack, **labels) -> float:
    """Finished StreamMel and StreamVocode calls (with ``labels``, e.g. a code)."""
    return sum(_counter(stack, stage, "grpc_server_handled_total", grpc_method=method,
                        **labels) for stage, method in _STAGE_CALLS.items())  # fmt: skip


def _stage_in_flight(stack) -> float:
    return sum(
        _counter(stack, stage, "grpc_server_in_flight") for stage in _STAGE_CALLS
    )


def hang_up_mid_stream(
    stack,
    sentences: int,
    start: Callable[[], tuple[Iterable[bool], Callable[[], None]]],
) -> None:
    """Hang up a long synthesis once audio came, then check that the stages stop.

    ``start()`` sends the request of ``sentences`` sentences and returns its
    response, one item per message (True when it carried audio), read to its end or
    its break, and a function that hangs up. A thread reads the response all the
    time, so the gateway never waits on the caller and the stages are busy when the
    main thread, woken by the first audio (an event, not a sleep), hangs up. Then:
    the stage calls in flight end CANCELLED, none stays in flight, and the stages
    did not go on with the text (fewer calls than two per sentence). Use long
    sentences (:data:`LONG_SENTENCES`), so that there is work to cancel.
    """
    wait_until(lambda: _stage_in_flight(stack) == 0, "earlier stage calls ending")
    finished, cancelled = (
        _stage_calls(stack),
        _stage_calls(stack, grpc_code="CANCELLED"),
    )
    messages, hang_up = start()
    events: list[str] = []  # "audio", then how the stream ended
    first = threading.Event()

    def read() -> None:
        try:
            for has_audio in messages:
                if has_audio and not first.is_set():
                    events.append("audio")
                    first.set()
            events.append("the stream ended")
        except Exception as exc:  # the hang-up breaks the stream
            events.append(f"the stream broke: {exc!r}")
        first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert first.wait(120), "no audio within 120 s"
    assert events[0] == "audio", events
    hang_up()
    reader.join(120)
    assert not reader.is_alive(), "the caller's stream went on after the hang-up"
    wait_until(lambda: _stage_calls(stack, grpc_code="CANCELLED") > cancelled,
               "stage calls cancelled")  # fmt: skip
    wait_until(lambda: _stage_in_flight(stack) == 0, "stage calls in flight ending")
    calls = _stage_calls(stack) - finished
    assert calls < 2 * sentences, f"{calls:.0f} stage calls for {sentences} sentences"


def test_every_process_serving_and_reflection_lists_services(stack):
    for name in ("frontend", "acoustic", "vocoder", "gateway"):
        assert health_status(stack.address(name)) == "SERVING", name
    with grpc.insecure_channel(stack.gateway_address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        reply = next(
            stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                timeout=10,
            )
        )
    names = {s.name for s in reply.list_services_response.service}
    assert {"tts.v1.GatewayService", "grpc.health.v1.Health"} <= names


def test_unary_and_stream_give_the_same_samples(gateway):
    unary = _pcm(gateway, TWO_SENTENCES, stream=False)
    streamed = _pcm(gateway, TWO_SENTENCES, stream=True)
    assert len(unary) == len(streamed) > 16000 * 0.5
    assert np.abs(unary.astype(np.int32) - streamed).max() <= 1


def test_wav_resampled_to_24k(gateway):
    reply = gateway.Synthesize(
        gateway_service_pb2.SynthesizeRequest(
            text=TWO_SENTENCES,
            encoding=audio_pb2.AUDIO_ENCODING_WAV,
            sample_rate_hz=24000,
        ),
        timeout=120,
    )
    audio, rate = sf.read(io.BytesIO(reply.audio), dtype="int16")
    native = _pcm(gateway, TWO_SENTENCES, stream=False)
    assert rate == 24000 and abs(len(audio) - len(native) * 1.5) <= 2


def test_word_and_phone_timings_cover_the_audio(gateway):
    """Timings from the real acoustic model's durations: words in order, inside
    their sentence, phones tiling it; the last end plus its pause is the audio's
    end, at any output rate."""
    request = gateway_service_pb2.SynthesizeRequest(
        text=TWO_SENTENCES, enable_timings=True, sample_rate_hz=24000,
        encoding=audio_pb2.AUDIO_ENCODING_WAV,
    )  # fmt: skip
    reply = gateway.Synthesize(request, timeout=120)
    assert len(reply.sentences) == 2
    end = 0.0
    for info in reply.sentences:
        timing = info.timings
        assert timing.sentence.start_s == pytest.approx(end, abs=1e-3)  # ms rounding
        words = [w.text for w in timing.words]
        assert "".join(words) in info.normalized_text and len(words) >= 3
        bounds = [(w.start_s, w.end_s) for w in timing.words]
        assert all(a < b for a, b in bounds)
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(bounds))
        assert timing.sentence.start_s <= bounds[0][0]
        assert bounds[-1][1] <= timing.sentence.end_s
        phones = [(p.start_s, p.end_s) for p in timing.phones]
        assert all(a <= b for a, b in phones) and len(phones) > len(words)
        end = timing.sentence.start_s + info.duration_ms / 1000
    assert end == pytest.approx(reply.num_samples / 24000, abs=0.002)


def test_ssml_mark_is_timed_at_the_next_word(gateway):
    """A <mark> reports the start of the word after it; <prosody pitch> and
    <emphasis> are accepted and keep the marks."""
    text = (
        '<speak>今天<mark name="weather"/>天气很好。'
        '<prosody pitch="+3st">我们<emphasis>一起</emphasis>去</prosody>'
        '<mark name="park"/>公园。</speak>'
    )
    reply = gateway.Synthesize(
        gateway_service_pb2.SynthesizeRequest(
            text=text, ssml=True, enable_timings=True
        ),
        timeout=120,
    )
    marks = {m.text: m.start_s for i in reply.sentences for m in i.timings.marks}
    words = {w.text: w for i in reply.sentences for w in i.timings.words}
    phones = [p.start_s for i in reply.sentences for p in i.timings.phones]
    assert set(marks) == {"weather", "park"}
    assert marks["park"] == pytest.approx(words["公园"].start_s)
    # Inside jieba's word 今天天气: before the syllable 天 of 天气.
    first = words["今天天气"]
    assert first.start_s < marks["weather"] < first.end_s
    assert min(abs(marks["weather"] - t) for t in phones) < 1e-9


def test_pitch_shift_changes_the_voice_not_the_timing(gateway):
    """Up 7 semitones: same length and word times, different samples; the pitch is
    part of the cache key, so the shifted audio is not served from the plain entry."""
    plain = gateway.Synthesize(
        gateway_service_pb2.SynthesizeRequest(text=TWO_SENTENCES, enable_timings=True),
        timeout=120,
    )
    high = gateway.Synthesize(
        gateway_service_pb2.SynthesizeRequest(
            text=TWO_SENTENCES, enable_timings=True, pitch_semitones=7.0
        ),
        timeout=120,
    )
    assert not any(s.cached for s in high.sentences)
    assert high.num_samples == plain.num_samples
    for a, b in zip(plain.sentences, high.sentences, strict=True):
        assert [w.start_s for w in a.timings.words] == [
            w.start_s for w in b.timings.words
        ]
    assert high.audio != plain.audio
    with pytest.raises(grpc.RpcError) as err:
        gateway.Synthesize(
            gateway_service_pb2.SynthesizeRequest(text="你好。", pitch_semitones=13),
            timeout=60,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_request_lexicon_changes_the_reading(gateway):
    """A per-request pronunciation reaches the frontend and the analysis cache key."""
    text = "重庆很美。"
    plain = gateway.Synthesize(
        gateway_service_pb2.SynthesizeRequest(text=text), timeout=120
    )
    entry = audio_pb2.LexiconEntry(word="重庆", pronunciation="zhong4 qing4")
    custom = gateway.Synthesize(
        gateway_service_pb2.SynthesizeRequest(text=text, lexicon=[entry]), timeout=120
    )
    assert not any(s.cached for s in custom.sentences)
    assert custom.audio != plain.audio


def test_first_audio_arrives_before_the_last_sentence_is_synthesized(stack, gateway):
    """The gateway sends sentence 0's audio early in the call, not after the whole
    text: its time to first audio is under half the call's time. Both are the
    gateway's own measurements (its metrics), so a client or a scrape slowed down by
    a loaded machine cannot change the comparison."""

    def gateway_s(sample: str, **labels: str) -> float:
        return _counter(stack, "gateway", sample, **labels)

    method = {"grpc_method": "StreamSynthesize"}
    calls = gateway_s("grpc_server_handling_seconds_count", **method)
    call_s = gateway_s("grpc_server_handling_seconds_sum", **method)
    first_s = gateway_s(
        "tts_time_to_first_audio_seconds_sum", method="StreamSynthesize"
    )
    stream = gateway.StreamSynthesize(
        gateway_service_pb2.StreamSynthesizeRequest(
            text=MANY_SENTENCES,
            encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE,
            no_cache=True,
        ),
        timeout=120,
    )
    header = next(stream)
    assert header.HasField("header") and header.header.num_sentences == 8
    first = next(stream)
    assert first.HasField("chunk") and first.chunk.sentence_index == 0
    rest = list(stream)
    assert rest[-1].chunk.last_in_stream
    wait_until(lambda: gateway_s("grpc_server_handling_seconds_count", **method) > calls,
               "the gateway recording the call")  # fmt: skip
    call_s = gateway_s("grpc_server_handling_seconds_sum", **method) - call_s
    first_s = gateway_s("tts_time_to_first_audio_seconds_sum",
                        method="StreamSynthesize") - first_s  # fmt: skip
    assert 0 < first_s < call_s / 2, (first_s, call_s)


def test_client_going_away_stops_stage_work(stack, gateway):
    def start() -> tuple[Iterable[bool], Callable[[], None]]:
        stream = gateway.StreamSynthesize(
            gateway_service_pb2.StreamSynthesizeRequest(
                text=LONG_SENTENCES * 6,
                encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE,
                no_cache=True,
            ),
            timeout=120,
        )
        return (bool(m.chunk.audio) for m in stream), stream.cancel

    hang_up_mid_stream(stack, 12, start)


def test_bad_input_statuses_through_the_stack(gateway):
    cases: list[tuple[dict[str, Any], grpc.StatusCode]] = [
        ({"text": ""}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"text": "你好", "voice": "nobody"}, grpc.StatusCode.NOT_FOUND),
        ({"text": "你好", "emotion": "furious"}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"text": "你好", "speed": 3.0}, grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for fields, code in cases:
        with pytest.raises(grpc.RpcError) as err:
            gateway.Synthesize(
                gateway_service_pb2.SynthesizeRequest(**fields), timeout=60
            )
        assert err.value.code() == code, fields
        assert err.value.details()


def test_ttsctl_say_and_voices(stack, tmp_path):
    out = tmp_path / "out.wav"
    cli = [sys.executable, "-m", "ttsctl"]
    said = subprocess.run(
        [*cli, "say", TWO_SENTENCES, "-o", str(out), "--server", stack.gateway_address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert said.returncode == 0, said.stderr
    audio, rate = sf.read(out, dtype="int16")
    assert rate == 16000 and len(audio) > 8000
    voices = subprocess.run(
        [*cli, "voices", "--server", stack.gateway_address],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert voices.returncode == 0 and "testvoice_emo" in voices.stdout
    down = subprocess.run(
        [*cli, "voices", "--server", "127.0.0.1:1", "--timeout", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode != 0 and "UNAVAILABLE" in down.stderr
