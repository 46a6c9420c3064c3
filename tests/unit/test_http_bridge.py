"""HTTP bridge pieces without sockets: status mapping, formats, body checks, config."""

from __future__ import annotations

import json

import grpc
import pytest

from gateway.http.config import HttpConfig
from gateway.http.errors import ApiError, from_rpc_error, http_status
from gateway.http.speech import FORMATS, parse_speech
from gateway.options import MAX_LEXICON_ENTRIES, PITCH_RANGE_SEMITONES
from sambert_tts_protos.v1 import audio_pb2
from tts_common.audio import OPUS_SAMPLE_RATES_HZ
from tts_common.config import ConfigError
from tts_common.speed import SPEED_RANGE

_E = audio_pb2.AudioEncoding


def _failed(code: grpc.StatusCode, details: str) -> grpc.RpcError:
    """The error a grpc.aio call (the bridge's channel) raises with this status."""
    empty = grpc.aio.Metadata()
    return grpc.aio.AioRpcError(code, empty, empty, details=details)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNKNOWN, 500),
        (grpc.StatusCode.FAILED_PRECONDITION, 500),
    ],
)
def test_grpc_codes_map_to_http(code: grpc.StatusCode, status: int) -> None:
    err = from_rpc_error(_failed(code, "voice 'x' not found; use one of: a"))
    assert http_status(code) == status == err.status
    assert err.code == code.name.lower()


def test_client_errors_keep_the_message_internal_ones_do_not() -> None:
    bad = from_rpc_error(_failed(grpc.StatusCode.INVALID_ARGUMENT, "text is empty"))
    assert bad.message == "text is empty"
    leak = from_rpc_error(_failed(grpc.StatusCode.INTERNAL, "Traceback: secret path"))
    assert "secret" not in leak.message


def test_error_body_is_openai_shaped() -> None:
    response = ApiError(429, "slow down", "resource_exhausted").response()
    assert response.status == 429
    assert isinstance(response.body, bytes)
    body = json.loads(response.body)
    assert body == {
        "error": {
            "message": "slow down",
            "type": "rate_limit_error",
            "code": "resource_exhausted",
        }
    }


@pytest.mark.parametrize(
    ("fmt", "voice_rate", "rate"),
    [
        ("pcm", 16000, 24000),
        ("pcm", 24000, 24000),
        ("wav", 22050, 0),
        ("flac", 16000, 0),
        ("opus", 16000, 0),
        ("opus", 22050, 24000),
        ("opus", 44100, 48000),
        ("mp3", 22050, 0),
        ("mp3", 96000, 48000),
    ],
)
def test_output_rate_per_format(fmt: str, voice_rate: int, rate: int) -> None:
    """pcm is always 24 kHz; codecs with fixed rates get the next one up."""
    assert FORMATS[fmt].sample_rate_for(voice_rate) == rate
    if fmt == "opus":
        assert (rate or voice_rate) in OPUS_SAMPLE_RATES_HZ


def test_parse_maps_every_field_onto_the_grpc_request() -> None:
    params = parse_speech(
        {
            "model": "tts-1",
            "input": "你好",
            "voice": "v",
            "response_format": "opus",
            "speed": 1.5,
            "emotion": "happy",
            "speaker": "s",
            "no_cache": True,
        }
    )
    request = params.to_request(22050)
    assert (request.text, request.voice, request.emotion, request.speaker) == (
        "你好",
        "v",
        "happy",
        "s",
    )
    assert request.speed == 1.5 and request.no_cache
    assert request.encoding == _E.AUDIO_ENCODING_OGG_OPUS
    assert request.sample_rate_hz == 24000


def test_defaults_are_openai_s() -> None:
    params = parse_speech({"input": "你好"})
    assert params.response_format == "mp3" and params.speed == 1.0
    assert params.to_request(16000).encoding == _E.AUDIO_ENCODING_MP3


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("x", "invalid_body"),
        ({}, "missing_input"),
        ({"input": 5}, "invalid_input"),
        ({"input": "a", "speed": True}, "invalid_speed"),
        ({"input": "a", "speed": float("nan")}, "invalid_speed"),
        ({"input": "a", "speed": 0.24}, "invalid_speed"),
        ({"input": "a", "speed": 4.01}, "invalid_speed"),
        ({"input": "a", "response_format": "aac"}, "unsupported_response_format"),
        ({"input": "a", "stream_format": "chunks"}, "unsupported_stream_format"),
        ({"input": "a", "no_cache": "yes"}, "invalid_no_cache"),
        ({"input": "a", "model": 3}, "invalid_model"),
        ({"input": "a", "pitch_semitones": 12.01}, "invalid_pitch_semitones"),
        ({"input": "a", "pitch_semitones": -13}, "invalid_pitch_semitones"),
        ({"input": "a", "pitch_semitones": float("inf")}, "invalid_pitch_semitones"),
        ({"input": "a", "pitch_semitones": "+2"}, "invalid_pitch_semitones"),
        ({"input": "a", "pitch_semitones": True}, "invalid_pitch_semitones"),
        ({"input": "a", "timings": "yes"}, "invalid_timings"),
        ({"input": "a", "lexicon": "重庆=chong2 qing4"}, "invalid_lexicon"),
        ({"input": "a", "lexicon": {"重庆": 2}}, "invalid_lexicon"),
        ({"input": "a", "lexicon": {"重庆": "  "}}, "invalid_lexicon"),
        ({"input": "a", "lexicon": {"": "a1"}}, "invalid_lexicon"),
        ({"input": "a", "lexicon": {"\ud800": "a1"}}, "invalid_lexicon"),
        ({"input": "a", "lexicon": [["重庆", "chong2 qing4"]]}, "invalid_lexicon"),
        (
            {"input": "a", "lexicon": [{"word": "重庆", "reading": "x"}]},
            "invalid_lexicon",
        ),
    ],
)
def test_bad_bodies_are_400(body: object, code: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_speech(body)
    assert err.value.status == 400 and err.value.code == code


def test_pitch_lexicon_and_timings_reach_the_grpc_request() -> None:
    """Both lexicon forms give the same entries, in order, trimmed."""
    as_object = parse_speech({
        "input": "重庆", "pitch_semitones": -12, "timings": True,
        "lexicon": {"重庆": " chong2 qing4", "银行": "yin2 hang2"},
    })  # fmt: skip
    as_list = parse_speech({
        "input": "重庆", "pitch_semitones": -12, "timings": True,
        "lexicon": [{"word": "重庆", "pronunciation": "chong2 qing4"},
                    {"word": "银行", "pronunciation": "yin2 hang2 "}],
    })  # fmt: skip
    assert as_object == as_list
    request = as_list.to_request(16000)
    assert request.pitch_semitones == -12 and request.enable_timings
    assert [(e.word, e.pronunciation) for e in request.lexicon] == [
        ("重庆", "chong2 qing4"),
        ("银行", "yin2 hang2"),
    ]
    plain = parse_speech({"input": "a", "pitch_semitones": None, "lexicon": None})
    request = plain.to_request(16000)
    assert request.pitch_semitones == 0 and not request.lexicon
    assert not request.enable_timings


def test_pitch_range_and_lexicon_size_are_the_gateway_s() -> None:
    low, high = PITCH_RANGE_SEMITONES
    assert parse_speech({"input": "a", "pitch_semitones": high}).pitch_semitones == high
    assert parse_speech({"input": "a", "pitch_semitones": low}).pitch_semitones == low
    words = {chr(0x4E00 + i): "yi1" for i in range(MAX_LEXICON_ENTRIES + 1)}
    most = dict(list(words.items())[:-1])
    assert len(parse_speech({"input": "a", "lexicon": most}).lexicon) == len(most)
    with pytest.raises(ApiError, match=f"over the limit of {MAX_LEXICON_ENTRIES}"):
        parse_speech({"input": "a", "lexicon": words})
    with pytest.raises(ApiError, match="use -12 to 12"):
        parse_speech({"input": "a", "pitch_semitones": 13})


def test_speed_outside_the_gateway_s_range_is_clamped_to_it() -> None:
    """OpenAI's 0.25 to 4.0 is accepted; the gateway gets the shared range's
    nearest end outside it, exactly its bounds inside it."""
    low, high = SPEED_RANGE
    assert parse_speech({"input": "a", "speed": low}).speed == low
    assert parse_speech({"input": "a", "speed": high}).speed == high
    assert parse_speech({"input": "a", "speed": 0.25}).speed == low
    assert parse_speech({"input": "a", "speed": 4}).speed == high
    for outside in (0.2499, 4.0001):
        with pytest.raises(ApiError, match=f"0.25 to 4.0 .the voices speak {low}"):
            parse_speech({"input": "a", "speed": outside})


def test_config_from_env_and_flags() -> None:
    cfg = HttpConfig.from_env({"GATEWAY_ADDR": "gw:50050", "HTTP_PORT": "9000"})
    assert (cfg.gateway_addr, cfg.port, cfg.bind_host) == ("gw:50050", 9000, None)
    cfg = cfg.with_flags(["--port", "8081", "--host", "127.0.0.1"])
    assert (cfg.port, cfg.bind_host, cfg.gateway_addr) == (
        8081,
        "127.0.0.1",
        "gw:50050",
    )
    assert HttpConfig.from_env({}).port == 8080
    with pytest.raises(ConfigError, match="GATEWAY_ADDR"):
        HttpConfig.from_env({"GATEWAY_ADDR": "no-port"})
    with pytest.raises(ConfigError, match="HTTP_PORT"):
        HttpConfig.from_env({"HTTP_PORT": "70000"})
