"""The HTTP bridge answers every malformed request 400 in OpenAI's error shape
(it answered 500 to several), in front of an in-process gateway."""

from __future__ import annotations

import json

import aiohttp
import pytest
import yarl

from tests.service.hostile_stack import HostileStack


async def _post(
    stack: HostileStack, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.post(
        stack.http_url + "/v1/audio/speech", data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    ) as reply:  # fmt: skip
        headers = {k.lower(): v for k, v in reply.headers.items()}
        return reply.status, headers, await reply.read()


async def _get(stack: HostileStack, path: str) -> tuple[int, bytes]:
    url = yarl.URL(stack.http_url + path, encoded=True)
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        return reply.status, await reply.read()


def _error(data: bytes) -> dict[str, str]:
    error: dict[str, str] = json.loads(data)["error"]
    assert set(error) == {"message", "type", "code"} and error["message"]
    assert error["type"] == "invalid_request_error"
    return error


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (b'{"input": "\\ud800\\u4f60"}', "invalid_input", "lone surrogate"),
        (b'{"input": "hi", "voice": "\\udfff"}', "invalid_voice", "lone surrogate"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json", "not valid JSON"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "invalid_json", "not valid JSON"),
        (b'{"input": "hi", "speed": 1e309}', "invalid_speed", "speed inf is out"),
        (b'{"input": "hi", "speed": 1' + b"0" * 400 + b"}", "invalid_speed",
         "speed 10000000000000000000... is out of range"),
        (b'{"input": "hi", "speed": ' + b"9" * 5000 + b"}", "invalid_json",
         "not valid JSON"),
        (b'{"input": "hi", "speed": NaN}', "invalid_speed", "speed nan is out"),
        (b'{"input": "hi", "speed": "fast"}', "invalid_speed", "must be a number"),
        (b'{"input": 5}', "invalid_input", "input must be a string"),
        (b'{"input": "hi", "no_cache": "yes"}', "invalid_no_cache", "true or false"),
        (b'["input"]', "invalid_body", "must be a JSON object"),
        (b'"input"', "invalid_body", "must be a JSON object"),
        (b"\xff\xfe{}", "invalid_json", "not valid JSON"),
        (json.dumps({"input": "好" * 2001}).encode(), "invalid_argument",
         "input has 2001 characters, over the limit of 2000"),
        (json.dumps({"input": "好" * 100_000}).encode(), "invalid_argument",
         "input has 100000 characters"),
    ],
)  # fmt: skip
async def test_bad_speech_bodies_are_400(
    hostile_stack: HostileStack, body: bytes, code: str, fragment: str
) -> None:
    status, _, data = await _post(hostile_stack, body)
    assert status == 400, data[:200]
    error = _error(data)
    assert error["code"] == code and fragment in error["message"]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("window_s=4294967296", "window_s 4294967296 is out of range; use 1 to 2592000"),
        ("window_s=4294967295", "window_s 4294967295 is out of range"),
        ("window_s=-1", "window_s -1 is out of range"),
        ("top=101", "top 101 is out of range; use 0 to 100"),
        ("top=99999999999999999999999", "top 99999999999999999999999 is out of range"),
        ("window_s=abc", "must be whole numbers"),
        ("window_s=" + "9" * 5000, "must be whole numbers"),
    ],
)  # fmt: skip
async def test_bad_report_queries_are_400(
    hostile_stack: HostileStack, query: str, fragment: str
) -> None:
    status, data = await _get(hostile_stack, f"/v1/cache/report?{query}")
    assert status == 400, data[:200]
    error = _error(data)
    assert error["code"] == "invalid_query" and fragment in error["message"]
    status, data = await _get(
        hostile_stack, "/v1/cache/report?window_s=2592000&top=100"
    )
    assert status == 200, data[:200]


async def test_a_request_id_grpc_cannot_carry_is_replaced(
    hostile_stack: HostileStack,
) -> None:
    """A non-ASCII X-Request-Id is dropped (the gateway makes one), not a 500."""
    body = json.dumps({"input": "你好。", "response_format": "wav"}).encode()
    status, headers, data = await _post(
        hostile_stack, body, {"X-Request-Id": "caf\u00e9"}
    )
    assert status == 200, data[:200]
    assert headers["x-request-id"] and headers["x-request-id"] != "caf\u00e9"
    status, headers, _ = await _post(hostile_stack, body, {"X-Request-Id": "mine-1"})
    assert status == 200 and headers["x-request-id"] == "mine-1"
