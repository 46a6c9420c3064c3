"""Hostile input: must not crash, must stay within limits, must finish in time."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frontend_svc import Frontend
from tts_common.errors import InvalidInput
from tts_common.symbols import parse_symbols, phone_inventory

PHONES = set(phone_inventory())


def _check(sentences) -> None:
    for s in sentences:
        toks = parse_symbols(s.symbols)
        assert 0 < len(toks) <= 256
        assert toks[-1].phone == "#4"
        assert all(t.phone in PHONES for t in toks)


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x1b[31m红色\x7f\u200b\ufeff",
        "😀🎉👍🏽🇨🇳 表情 🙈",
        "русский English العربية 日本語のテキスト 한국어 中文",
        "١٢٣ ४५६ 数字",
        "\n\n\t  \r\n",
        "<<<>>>&&&%%%###@@@",
        "9" * 500,
        "1.2.3.4.5.6.7.8.9",
        "-" * 300 + "¥" * 50,
    ],
)
def test_odd_inputs_do_not_crash(fe, text: str) -> None:
    _check(fe.analyze(text))
    fe.g2p(text)


def test_non_string_is_invalid_input(fe: Frontend) -> None:
    with pytest.raises(InvalidInput):
        fe.analyze(None)  # type: ignore[arg-type]  # the wrong type is the test


def _cpu_seconds(fe, text: str) -> float:
    """This thread's CPU time for ``fe.analyze(text)``, whose result is checked.

    CPU time, not wall time: other processes on a loaded machine delay the call
    but do not add to the work it does.
    """
    start = time.thread_time()
    sentences = fe.analyze(text)
    seconds = time.thread_time() - start
    _check(sentences)
    return seconds


@pytest.mark.parametrize("unit", ["天气很好，", "哈", "a", "1", "中文abc123！"])
def test_100k_characters_finish_quickly(fe, unit: str) -> None:
    """100k characters cost about ten times what 10k cost (linear, not quadratic:
    that would be ~100 times), and under a minute of CPU in any case."""

    def text(n: int) -> str:
        return (unit * (n // len(unit) + 1))[:n]

    small_s = _cpu_seconds(fe, text(10_000))
    large_s = _cpu_seconds(fe, text(100_000))
    assert large_s < 60, f"100k characters took {large_s:.1f} s of CPU"
    assert large_s < 30 * max(small_s, 0.01), (
        f"100k characters took {large_s:.2f} s of CPU, 10k took {small_s:.2f} s"
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(max_size=200))
def test_property_any_text(fe, text: str) -> None:
    _check(fe.analyze(text))
    assert all(len(p) >= 2 and p[-1] in "12345" for p in fe.g2p(text))
    assert isinstance(fe.normalize(text), str)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.text(
        alphabet=st.sampled_from(
            "一不儿好我你是的了0123456789.:-/%年月日￥$，。 abcKG℃"
        ),
        max_size=80,
    )
)
def test_property_chinese_and_numbers(fe, text: str) -> None:
    _check(fe.analyze(text))
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    assert len(fe.g2p(text)) == len(han)
