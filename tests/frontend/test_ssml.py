"""The SSML subset: one test per element, plus malformed markup."""

from __future__ import annotations

import math

import pytest

from tts_common.errors import InvalidInput
from tts_common.pauses import SENTENCE_PAUSE_MS
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


def test_p_and_s_close_sentences_with_a_pause(fe) -> None:
    """<p> and <s> end a sentence even without punctuation, with a sentence pause
    (none after the last sentence; a <break> at the end replaces it)."""
    sents = fe.analyze(
        "<speak><p><s>第一句</s><s>第二句</s></p>"
        '<p>第三段<break time="1s"/></p><p>最后一段</p></speak>'
    )
    assert [s.text for s in sents] == ["第一句", "第二句", "第三段", "最后一段"]
    assert [s.pause_after_ms for s in sents] == [SENTENCE_PAUSE_MS] * 2 + [0, 0]
    assert [s.break_after_ms for s in sents] == [0, 0, 1000, 0]
    [plain] = fe.analyze("<speak>第一句第二句</speak>")
    assert plain.text == "第一句第二句"


@pytest.mark.parametrize(
    ("level", "energy", "rate"),
    [("strong", 0.6, 0.85), ("moderate", 0.3, 0.92), ("reduced", -0.3, 1.05),
     ("none", 0.0, 1.0), (None, 0.3, 0.92)],
)  # fmt: skip
def test_emphasis_shifts_energy_and_rate(fe, level, energy, rate) -> None:
    """Emphasis raises (or lowers) the energy and slows (or speeds) the piece;
    the rate multiplies a surrounding <prosody rate>; the symbols stay the same."""
    attr = f' level="{level}"' if level else ""
    sents = fe.analyze(
        f'<speak>今天<prosody rate="slow"><emphasis{attr}>非常</emphasis></prosody>'
        "好</speak>"
    )
    assert [s.text for s in sents] == ["今天", "非常", "好"]
    assert (sents[1].energy_shift, sents[1].rate) == pytest.approx(
        (energy, 0.75 * rate)
    )
    assert (sents[0].energy_shift, sents[0].rate) == (0.0, 1.0)
    assert sents[1].symbols == fe.analyze("<speak>非常</speak>")[0].symbols


def test_bad_emphasis_level(fe) -> None:
    with pytest.raises(InvalidInput, match="strong, moderate, reduced, none"):
        fe.analyze('<speak><emphasis level="loud">好</emphasis></speak>')


@pytest.mark.parametrize(
    ("pitch", "semitones"),
    [("+2st", 2.0), ("-3st", -3.0), ("2.5st", 2.5), ("+10%", 12 * math.log2(1.1)),
     ("-50%", -12.0), ("x-low", -6.0), ("low", -3.0), ("medium", 0.0),
     ("default", 0.0), ("high", 3.0), ("x-high", 6.0), ("+12st", 12.0)],
)  # fmt: skip
def test_prosody_pitch(fe, pitch: str, semitones: float) -> None:
    sents = fe.analyze(f'<speak><prosody pitch="{pitch}">高</prosody>平</speak>')
    assert sents[0].pitch_semitones == pytest.approx(semitones)
    assert sents[1].pitch_semitones == 0.0


def test_nested_prosody_pitch_adds(fe) -> None:
    """Relative values add to the surrounding shift; a name sets it (as named rates
    do); the sum may pass 12 here: the gateway checks it with the request's own."""
    sents = fe.analyze(
        '<speak><prosody pitch="+2st">一<prosody pitch="+10%">二'
        '<prosody pitch="-1st">三</prosody><prosody pitch="low">四</prosody>'
        '</prosody></prosody><prosody pitch="high"><prosody pitch="+12st">五'
        "</prosody></prosody></speak>"
    )
    up = 12 * math.log2(1.1)
    assert [s.pitch_semitones for s in sents] == pytest.approx(
        [2.0, 2.0 + up, 1.0 + up, -3.0, 15.0]
    )


@pytest.mark.parametrize(
    ("pitch", "message"),
    [("200Hz", "Hz are not supported"), ("+20Hz", "base pitch is not known"),
     ("+13st", "at most 12 semitones"), ("+150%", "at most 12 semitones"),
     ("-100%", "above -100%"), ("10%", "signed change"), ("up", "use semitones"),
     ("nanst", "use semitones")],
)  # fmt: skip
def test_bad_prosody_pitch(fe, pitch: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        fe.analyze(f'<speak><prosody pitch="{pitch}">高</prosody></speak>')


@pytest.mark.parametrize(
    ("ssml", "message"),
    [
        ("<speak>你好<break></speak>", "line 1, column"),
        (
            "<speak><foo>x</foo></speak>",
            "unsupported SSML element <foo>; use speak, p, s",
        ),
        ("<speakx>x</speakx>", "<speak>"),
        ('<speak><break time="soon"/></speak>', "break time"),
        ('<speak><emotion name="furious">x</emotion></speak>', "emotion"),
        ('<speak><phoneme ph="a">重庆</phoneme></speak>', "lexicon"),
    ],
)
def test_malformed_ssml(fe, ssml: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        fe.analyze(ssml)
