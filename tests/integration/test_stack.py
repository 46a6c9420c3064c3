"""The whole stack as real processes over real sockets (LocalStack, real Redis)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import urllib.request

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2, gateway_service_pb2_grpc

from tests.golden import GOLDEN
from tts_common.stack import LocalStack, health_status

pytestmark = pytest.mark.slow

TWO_SENTENCES = "今天天气很好。我们一起去公园散步吧！"
MANY_SENTENCES = "。".join(["今天天气很好", "我们一起去公园散步吧", "明天早上八点出发",
                           "他说不想再见到你", "一会儿去哪儿看花儿", "这儿的风景真美啊",
                           "你到底想怎么样", "中华人民共和国成立了"]) + "。"


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
        parts = [m.chunk.audio for m in stub.StreamSynthesize(
            gateway_service_pb2.StreamSynthesizeRequest(**kwargs), timeout=120)
            if m.HasField("chunk")]
        return np.frombuffer(b"".join(parts), np.int16)
    reply = stub.Synthesize(gateway_service_pb2.SynthesizeRequest(**kwargs), timeout=120)
    return np.frombuffer(reply.audio, np.int16)


def _counter(stack, name, sample, **labels) -> float:
    port = stack.processes[name].metrics_port
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    total = 0.0
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def test_every_process_serving_and_reflection_lists_services(stack):
    for name in ("frontend", "acoustic", "vocoder", "gateway"):
        assert health_status(stack.address(name)) == "SERVING", name
    with grpc.insecure_channel(stack.gateway_address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        reply = next(stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
    names = {s.name for s in reply.list_services_response.service}
    assert {"tts.v1.GatewayService", "grpc.health.v1.Health"} <= names


def test_unary_and_stream_give_the_same_samples(gateway):
    unary = _pcm(gateway, TWO_SENTENCES, stream=False)
    streamed = _pcm(gateway, TWO_SENTENCES, stream=True)
    assert len(unary) == len(streamed) > 16000 * 0.5
    assert np.abs(unary.astype(np.int32) - streamed).max() <= 1


def test_wav_resampled_to_24k(gateway):
    reply = gateway.Synthesize(gateway_service_pb2.SynthesizeRequest(
        text=TWO_SENTENCES, encoding=audio_pb2.AUDIO_ENCODING_WAV, sample_rate_hz=24000),
        timeout=120)
    audio, rate = sf.read(io.BytesIO(reply.audio), dtype="int16")
    native = _pcm(gateway, TWO_SENTENCES, stream=False)
    assert rate == 24000 and abs(len(audio) - len(native) * 1.5) <= 2


def test_first_audio_arrives_before_the_last_sentence_is_synthesized(stack, gateway):
    before = _counter(stack, "acoustic", "grpc_server_handled_total",
                      grpc_method="StreamMel")
    stream = gateway.StreamSynthesize(gateway_service_pb2.StreamSynthesizeRequest(
        text=MANY_SENTENCES, encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE,
        no_cache=True), timeout=120)
    header = next(stream)
    assert header.HasField("header") and header.header.num_sentences == 8
    first = next(stream)
    assert first.HasField("chunk") and first.chunk.sentence_index == 0
    done_at_first_audio = _counter(stack, "acoustic", "grpc_server_handled_total",
                                   grpc_method="StreamMel") - before
    rest = list(stream)
    assert rest[-1].chunk.last_in_stream
    assert done_at_first_audio < 8


def test_client_going_away_stops_stage_work(stack, gateway):
    def cancelled() -> float:
        return sum(_counter(stack, stage, "grpc_server_handled_total", grpc_code="CANCELLED")
                   for stage in ("acoustic", "vocoder"))

    before = cancelled()
    stream = gateway.StreamSynthesize(gateway_service_pb2.StreamSynthesizeRequest(
        text=MANY_SENTENCES * 3, encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE,
        no_cache=True), timeout=120)
    next(stream)
    next(stream)
    stream.cancel()
    deadline = time.monotonic() + 30
    while cancelled() == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cancelled() > before
    in_flight = sum(_counter(stack, stage, "grpc_server_in_flight")
                    for stage in ("acoustic", "vocoder"))
    assert in_flight == 0


def test_bad_input_statuses_through_the_stack(gateway):
    cases = [
        (dict(text=""), grpc.StatusCode.INVALID_ARGUMENT),
        (dict(text="你好", voice="nobody"), grpc.StatusCode.NOT_FOUND),
        (dict(text="你好", emotion="furious"), grpc.StatusCode.INVALID_ARGUMENT),
        (dict(text="你好", speed=3.0), grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for fields, code in cases:
        with pytest.raises(grpc.RpcError) as err:
            gateway.Synthesize(gateway_service_pb2.SynthesizeRequest(**fields), timeout=60)
        assert err.value.code() == code, fields
        assert err.value.details()


def test_ttsctl_say_and_voices(stack, tmp_path):
    out = tmp_path / "out.wav"
    cli = [sys.executable, "-m", "ttsctl"]
    said = subprocess.run([*cli, "say", TWO_SENTENCES, "-o", str(out), "--server",
                           stack.gateway_address], capture_output=True, text=True,
                          timeout=120)
    assert said.returncode == 0, said.stderr
    audio, rate = sf.read(out, dtype="int16")
    assert rate == 16000 and len(audio) > 8000
    voices = subprocess.run([*cli, "voices", "--server", stack.gateway_address],
                            capture_output=True, text=True, timeout=60)
    assert voices.returncode == 0 and "testvoice_emo" in voices.stdout
    down = subprocess.run([*cli, "voices", "--server", "127.0.0.1:1", "--timeout", "2"],
                          capture_output=True, text=True, timeout=60)
    assert down.returncode != 0 and "UNAVAILABLE" in down.stderr
