"""Text-in streaming on the real stack: StreamingSynthesize fed like an LLM, the
cache shared with the other RPCs, and the bridge's WebSocket."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import grpc
import numpy as np
import pytest
import soundfile as sf

from sambert_tts_protos.v1 import audio_pb2, gateway_service_pb2_grpc
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tests.golden import GOLDEN
from tests.integration.test_stack import MANY_SENTENCES
from tts_common.stack import LocalStack
from ttsctl.bench_textstream import feed_like_llm, first_sentence_end

pytestmark = pytest.mark.slow

REPLY = (
    "您好，这里是客服中心。您的快递已放入小区东门的智能快递柜，请凭取件码领取。"
    "今天夜间到明天白天多云转小雨，最高气温十八度。前方五百米右转进入辅路，然后沿"
    "解放大道直行。本次会议将于下午两点半在三楼大会议室召开。请在十分钟内完成支付，"
    "超时订单将自动取消。图书馆周一至周五开放时间为早上八点到晚上十点。欢迎收听今天"
    "的早间新闻，首先关注国内要闻。温馨提示，雨天路滑，请减速慢行，注意安全。您的账"
    "户余额不足，请及时充值以免影响使用。"
)
"""An assistant's reply of ten sentences (210 characters: 3.5 s at three characters
every 50 ms)."""


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(GOLDEN / "small_causal", startup_timeout_s=240, http_port=0) as s:
        yield s


@pytest.fixture
def gateway(stack: LocalStack) -> Iterator[gateway_service_pb2_grpc.GatewayServiceStub]:
    with grpc.insecure_channel(stack.gateway_address) as channel:
        yield gateway_service_pb2_grpc.GatewayServiceStub(channel)


def _pcm(chunks: list[gw.SynthesisChunk]) -> np.ndarray:
    return np.frombuffer(b"".join(c.audio for c in chunks), np.int16)


def test_an_llm_like_feed_hears_the_first_sentence_before_the_text_ends(
    gateway,
) -> None:
    """Three characters every 50 ms: the first audio comes while the reply is still
    being written. Prints how long after the first complete sentence was sent."""
    config = gw.StreamSynthesizeRequest(
        encoding=audio_pb2.AUDIO_ENCODING_PCM_S16LE, no_cache=True
    )
    run = feed_like_llm(gateway, REPLY, config, piece_chars=3, interval_s=0.05)
    print(
        f"\ntext-in streaming, 3 characters every 50 ms: first audio "
        f"{run.first_audio_after_sentence_s * 1000:.0f} ms after the first sentence "
        f"({first_sentence_end(REPLY) + 1} characters) was sent; "
        f"{run.first_audio_s:.2f} s after the start, all {len(REPLY)} characters "
        f"sent at {run.all_sent_s:.2f} s, last audio at {run.end_s:.2f} s"
    )
    assert run.header is not None and run.header.sample_rate_hz > 0
    assert 0 < run.first_audio_s < run.all_sent_s
    ends = [c for c in run.chunks if c.last_in_sentence]
    assert [c.sentence_index for c in ends] == list(range(len(ends)))
    assert len(ends) >= REPLY.count("。")
    assert [c.last_in_stream for c in run.chunks][-1]
    assert sum(c.last_in_stream for c in run.chunks) == 1
    assert not any(c.sentence.cached for c in ends)
    pcm = _pcm(run.chunks)
    assert pcm.size / run.header.sample_rate_hz > 5  # ten sentences of real audio
    assert np.abs(pcm).max() > 1000


def test_a_stream_of_cached_sentences_is_the_unary_audio(gateway) -> None:
    """The sentences come from the cache the unary call filled, and the stream's
    audio (pauses between sentences included) equals the unary audio."""
    encoding = audio_pb2.AUDIO_ENCODING_PCM_S16LE
    unary = gateway.Synthesize(
        gw.SynthesizeRequest(text=MANY_SENTENCES, encoding=encoding), timeout=120
    )

    def requests() -> Iterator[gw.StreamingSynthesizeRequest]:
        yield gw.StreamingSynthesizeRequest(
            config=gw.StreamSynthesizeRequest(encoding=encoding)
        )
        for at in range(0, len(MANY_SENTENCES), 4):
            yield gw.StreamingSynthesizeRequest(text=MANY_SENTENCES[at : at + 4])
            time.sleep(0.01)

    messages = list(gateway.StreamingSynthesize(requests(), timeout=120))
    chunks = [m.chunk for m in messages[1:]]
    infos = [c.sentence for c in chunks if c.last_in_sentence]
    assert [i.index for i in infos] == [s.index for s in unary.sentences]
    assert all(i.cached for i in infos)
    assert np.array_equal(_pcm(chunks), np.frombuffer(unary.audio, np.int16))


def test_bad_streams_are_refused_by_the_real_gateway(gateway) -> None:
    def requests() -> Iterator[gw.StreamingSynthesizeRequest]:
        yield gw.StreamingSynthesizeRequest(text="你好。")

    with pytest.raises(grpc.RpcError) as info:
        list(gateway.StreamingSynthesize(requests(), timeout=30))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "must be a config" in info.value.details()


async def test_the_websocket_streams_one_mp3_as_text_arrives(stack) -> None:
    """Through the bridge: audio before the end is sent; the binary messages are
    one MP3 stream that decodes to the sentences' length."""
    url = stack.http_url.replace("http", "ws", 1) + "/v1/audio/speech/stream"
    audio = bytearray()
    events: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json({"response_format": "mp3", "no_cache": True})
        for at in range(0, len(REPLY[:60]), 3):
            await ws.send_json({"text": REPLY[at : at + 3]})
        while not any("sentence" in e for e in events):  # the end not yet sent
            message = await ws.receive(timeout=120)
            if message.type == aiohttp.WSMsgType.BINARY:
                audio += message.data
            else:
                events.append(message.json())
        await ws.send_json({"end": True})
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                audio += message.data
            else:
                events.append(message.json())
        assert ws.close_code == 1000
    assert events[0]["header"]["content_type"] == "audio/mpeg"
    done = events[-1]
    sentences = [e["sentence"] for e in events if "sentence" in e]
    assert done["done"] and done["sentences"] == len(sentences) >= 2
    assert done["audio_bytes"] == len(audio)
    pcm, rate = sf.read(io.BytesIO(bytes(audio)), dtype="int16")
    spoken_s = sum(s["duration_ms"] for s in sentences) / 1000
    # Plus the pauses between runs and the codec's delay and last frame.
    assert spoken_s - 0.05 <= pcm.size / rate <= spoken_s + 0.4 * len(sentences) + 0.2
