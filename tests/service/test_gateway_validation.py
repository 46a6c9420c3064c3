"""Gateway input validation: each bad field gets its status and a fix-it message."""

from __future__ import annotations

import grpc
import pytest

from gateway.config import GatewayConfig
from sambert_tts_protos.v1 import audio_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.config import ConfigError

TIMEOUT_S = 10.0
_INVALID = grpc.StatusCode.INVALID_ARGUMENT
_E = audio_pb2.AudioEncoding

NF = grpc.StatusCode.NOT_FOUND
OPUS, MP3 = _E.AUDIO_ENCODING_OGG_OPUS, _E.AUDIO_ENCODING_MP3
BAD_REQUESTS = [
    pytest.param({"text": ""}, _INVALID, "text is empty", id="empty"),
    pytest.param({"text": "  \n"}, _INVALID, "text is empty", id="blank"),
    pytest.param({"text": "好" * 51}, _INVALID, "over the limit of 50", id="too-long"),
    pytest.param(
        {"voice": "nobody"}, NF, "available voices: zhitian_emo, zhiyan_emo", id="voice"
    ),
    pytest.param({"emotion": "angry"}, _INVALID, "one of: happy, sad", id="emotion"),
    pytest.param(
        {"voice": "zhiyan_emo", "emotion": "happy"}, _INVALID, "use one of: none",
        id="no-emotions",
    ),
    pytest.param({"speaker": "M1"}, _INVALID, "use one of: F7", id="speaker"),
    pytest.param(
        {"speed": 2.5}, _INVALID, "use 0.5 to 2.0 (0 means 1.0)", id="speed-high"
    ),
    pytest.param({"speed": 0.25}, _INVALID, "use 0.5 to 2.0", id="speed-low"),
    pytest.param({"speed": float("nan")}, _INVALID, "use 0.5 to 2.0", id="speed-nan"),
    pytest.param({"volume_gain_db": 20.0}, _INVALID, "use -30 to 12", id="volume"),
    pytest.param(
        {"encoding": 42}, _INVALID, "use one of PCM_S16LE, WAV, FLAC, OGG_OPUS, MP3",
        id="encoding",
    ),
    pytest.param({"sample_rate_hz": 96000}, _INVALID, "use 8000 to 48000", id="high"),
    pytest.param({"sample_rate_hz": 4000}, _INVALID, "use 8000 to 48000", id="low"),
    pytest.param(
        {"encoding": OPUS, "sample_rate_hz": 22050}, _INVALID,
        "OGG_OPUS cannot encode 22050 Hz; set sample_rate_hz to one of "
        "8000, 12000, 16000, 24000, 48000",
        id="opus-rate",
    ),
    pytest.param(
        {"encoding": MP3, "sample_rate_hz": 9000}, _INVALID,
        "MP3 cannot encode 9000 Hz", id="mp3-rate",
    ),
    pytest.param(
        {"request_id": "x" * 200}, _INVALID, "request_id must be 1 to 128",
        id="request-id",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "code", "message"), BAD_REQUESTS)
async def test_bad_requests_fail_with_a_helpful_message(
    start_gateway, fake_stages, fields, code, message
) -> None:
    """Unary and streaming calls answer the same status and say what to fix, before
    any stage is asked to synthesize."""
    gateway = await start_gateway(max_text_chars=50)
    request = {"text": "你好。", **fields}
    with pytest.raises(grpc.aio.AioRpcError) as unary:
        await gateway.stub.Synthesize(
            gw.SynthesizeRequest(**request), timeout=TIMEOUT_S
        )
    with pytest.raises(grpc.aio.AioRpcError) as stream:
        await gateway.stub.StreamSynthesize(
            gw.StreamSynthesizeRequest(**request), timeout=TIMEOUT_S
        ).read()
    for error in (unary.value, stream.value):
        assert error.code() == code
        assert message in error.details()
    assert fake_stages.frontend.seen.calls == 0
    assert fake_stages.acoustic.seen.calls == 0


def _text_field(raw: bytes) -> bytes:
    """A serialized request whose field 1 (text) holds ``raw`` bytes verbatim."""
    return b"\x0a" + bytes([len(raw)]) + raw


@pytest.mark.parametrize("method", ["Synthesize", "StreamSynthesize"])
async def test_invalid_utf8_from_a_raw_client_is_invalid_argument(
    start_gateway, fake_stages, method
) -> None:
    """Bytes that are not UTF-8 in a string field cannot be parsed; the caller gets
    INVALID_ARGUMENT naming the problem, not INTERNAL or UNKNOWN."""
    gateway = await start_gateway()
    path = f"/tts.v1.GatewayService/{method}"
    raw = _text_field(b"\xff\xfe\xc3(")
    if method == "Synthesize":
        call = gateway.channel.unary_unary(
            path, request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(raw, timeout=TIMEOUT_S)
    else:
        call = gateway.channel.unary_stream(
            path, request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(raw, timeout=TIMEOUT_S).read()
    assert error.value.code() == _INVALID
    assert "valid UTF-8" in error.value.details()
    assert fake_stages.frontend.seen.calls == 0
    # The same raw path with valid UTF-8 works, so the bytes were the only problem.
    good = gateway.channel.unary_unary(
        "/tts.v1.GatewayService/Synthesize",
        request_serializer=None,
        response_deserializer=None,
    )
    reply = gw.SynthesizeResponse.FromString(
        await good(_text_field("你好。".encode()), timeout=TIMEOUT_S)
    )
    assert reply.num_samples > 0


async def test_text_with_nothing_to_speak_is_invalid_argument(start_gateway) -> None:
    """Text the frontend finds no sentence in is INVALID_ARGUMENT, not INTERNAL."""
    gateway = await start_gateway()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.stub.Synthesize(
            gw.SynthesizeRequest(text="。。"), timeout=TIMEOUT_S
        )
    assert error.value.code() == _INVALID
    assert "nothing to speak" in error.value.details()


ADDRS = {
    "FRONTEND_ADDR": "fe:1",
    "ACOUSTIC_ADDR": "am:2,am2:2",
    "VOCODER_ADDR": "voc:3",
}


def test_config_reads_replicas_and_defaults() -> None:
    """Stage addresses may list replicas; other settings have documented defaults."""
    cfg = GatewayConfig.from_env(
        {**ADDRS, "GATEWAY_PORT": "6000", "GATEWAY_RETRIES": "4"}
    )
    assert cfg.acoustic_addrs == ("am:2", "am2:2")
    assert (cfg.server.port, cfg.retries, cfg.sentences_in_flight) == (6000, 4, 2)
    assert cfg.redis_url is None
    assert GatewayConfig.from_env(ADDRS).server.port == 50050


@pytest.mark.parametrize("missing", sorted(ADDRS))
def test_config_fails_fast_naming_a_missing_stage(missing: str) -> None:
    """A missing stage address stops start-up with the variable's name."""
    env = {k: v for k, v in ADDRS.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        GatewayConfig.from_env(env)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"VOCODER_ADDR": "voc"}, "VOCODER_ADDR"),
        ({"ACOUSTIC_ADDR": "am:1,,am:2"}, "ACOUSTIC_ADDR"),
        ({"GATEWAY_SENTENCES_IN_FLIGHT": "0"}, "GATEWAY_SENTENCES_IN_FLIGHT"),
        ({"GATEWAY_RETRIES": "x"}, "GATEWAY_RETRIES"),
    ],
)
def test_config_rejects_malformed_values(env: dict[str, str], name: str) -> None:
    """Malformed values fail at start-up, naming the variable."""
    with pytest.raises(ConfigError, match=name):
        GatewayConfig.from_env({**ADDRS, **env})
