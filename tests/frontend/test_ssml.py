"""The SSML subset: one test per element, plus malformed markup."""

from __future__ import annotations

import pytest

from tts_common.errors import InvalidInput
from tts_common.symbols import parse_symbols


def test_speak_plain_text(fe) -> None:
    sents = fe.analyze("<speak>你好，世界。</speak>")
    assert [s.text for s in sents] == ["你好，世界。"]


def test_break_time_and_strength(fe) -> None:
    sents = fe.analyze(
        '<speak>第一句<break time="800ms"/>第二句<break strength="strong"/></speak>'
    )
    assert [s.break_after_ms for s in sents] == [800, 750]


def test_prosody_rate_volume(fe) -> None:
    sents = fe.analyze(
        '<speak><prosody rate="slow" volume="150%">慢一点</prosody>正常</speak>'
    )
    assert (sents[0].rate, sents[0].volume) == (0.75, 1.5)
    assert (sents[1].rate, sents[1].volume) == (1.0, 1.0)


@pytest.mark.parametrize(
    ("rate", "problem"),
    [("0%", "not a positive rate"), ("0", "not a positive rate"),
     ("-50%", "not a positive rate"), ("nan", "not a finite number"),
     ("1e400%", "not a finite number")],
)  # fmt: skip
def test_prosody_rate_must_be_positive(fe, rate, problem) -> None:
    """A zero, negative or non-finite rate is refused, not turned into normal speed
    (0 means "not set" on the wire); a silent volume stays allowed."""
    with pytest.raises(InvalidInput, match=f"rate='{rate}' is {problem}"):
        fe.analyze(f'<speak><prosody rate="{rate}">停</prosody></speak>')
    sents = fe.analyze('<speak><prosody volume="silent">静</prosody></speak>')
    assert (sents[0].rate, sents[0].volume) == (1.0, 0.0)


def test_prosody_rate_is_not_clamped(fe) -> None:
    """A fast rate reaches the gateway as written (it refuses what the stages cannot
    speak, naming the combined value); only the volume factor is capped."""
    sents = fe.analyze(
        '<speak><prosody rate="500%" volume="+40dB">快</prosody></speak>'
    )
    assert (sents[0].rate, sents[0].volume) == (5.0, 4.0)


def test_phoneme_pinyin(fe) -> None:
    sents = fe.analyze(
        '<speak><phoneme alphabet="py" ph="zhong4 qing4">重庆</phoneme></speak>'
    )
    assert sents[0].pinyin == ["zhong4", "qing4"]


@pytest.mark.parametrize(
    ("kind", "raw", "spoken"),
    [
        ("characters", "AB1", "A B 一"),
        ("digits", "2024", "二零二四"),
        ("cardinal", "2024", "两千零二十四"),
        ("telephone", "110", "幺幺零"),
        ("date", "2024-05-01", "二零二四年五月一日"),
    ],
)
def test_say_as(fe, kind: str, raw: str, spoken: str) -> None:
    sents = fe.analyze(f'<speak><say-as interpret-as="{kind}">{raw}</say-as></speak>')
    assert "".join(s.text for s in sents).replace(" ", "") == spoken.replace(" ", "")


def test_sub_alias(fe) -> None:
    sents = fe.analyze('<speak><sub alias="世界卫生组织">WHO</sub></speak>')
    assert sents[0].text == "世界卫生组织"


def test_emotion_element(fe) -> None:
    sents = fe.analyze('<speak><emotion name="sad">好难过</emotion>好的</speak>')
    first = parse_symbols(sents[0].symbols)
    assert {t.emotion for t in first} == {"emotion_sad"}
    assert parse_symbols(sents[1].symbols)[0].emotion == "emotion_neutral"


@pytest.mark.parametrize(
    ("ssml", "message"),
    [
        ("<speak>你好<break></speak>", "line 1, column"),
        ("<speak><foo>x</foo></speak>", "unsupported"),
        ("<speakx>x</speakx>", "<speak>"),
        ('<speak><break time="soon"/></speak>', "break time"),
        ('<speak><emotion name="furious">x</emotion></speak>', "emotion"),
        ('<speak><phoneme ph="a">重庆</phoneme></speak>', "lexicon"),
    ],
)
def test_malformed_ssml(fe, ssml: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        fe.analyze(ssml)
