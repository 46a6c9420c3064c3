"""KAN-TTS symbol strings: format, inventories, breaks, emotion/speaker, splitting."""

from __future__ import annotations

import pytest

from tts_common.errors import InvalidInput
from tts_common.pauses import SENTENCE_PAUSE_MS, SPLIT_PAUSE_MS
from tts_common.symbols import (
    EMOTIONS,
    SYLLABLE_FLAGS,
    WORD_SEGMENTS,
    parse_symbols,
    phone_inventory,
    tone_inventory,
)


def _tokens(fe, text, **kw):
    return [t for s in fe.analyze(text, **kw) for t in parse_symbols(s.symbols)]


def test_every_field_is_in_its_inventory(fe) -> None:
    toks = _tokens(fe, "今天下午3点，我们在北京大学门口见面吧！ABC")
    phones, tones = set(phone_inventory()), set(tone_inventory())
    for t in toks:
        assert t.phone in phones and t.tone in tones
        assert t.syllable_flag in SYLLABLE_FLAGS and t.word_segment in WORD_SEGMENTS
        assert t.emotion in EMOTIONS and t.speaker == "F7"


def test_exact_symbols_for_a_short_sentence(fe) -> None:
    sym = fe.analyze("你好")[0].symbols
    assert sym == (
        "{n_c$tone2$s_begin$word_begin$emotion_neutral$F7} "
        "{i_c$tone2$s_end$word_middle$emotion_neutral$F7} "
        "{h_c$tone3$s_begin$word_middle$emotion_neutral$F7} "
        "{ao_c$tone3$s_end$word_end$emotion_neutral$F7} "
        "{#4$tone_none$s_none$word_none$emotion_none$F7}"
    )


def test_zero_initial_pseudo_initials(fe) -> None:
    phones = [t.phone for t in _tokens(fe, "爱鹅哦一五") if not t.phone.startswith("#")]
    assert phones[:6] == ["ga", "ai_c", "ge", "e_c", "go", "o_c"]
    assert "y_c" in phones and "w_c" in phones


def test_breaks_word_comma_and_end(fe) -> None:
    toks = _tokens(fe, "我喜欢音乐，也喜欢画画。")
    breaks = [t.phone for t in toks if t.phone.startswith("#")]
    assert breaks[-1] == "#4" and "#3" in breaks and "#1" in breaks
    assert not toks[0].phone.startswith("#")  # no leading silence token


def test_emotion_and_speaker_on_every_token(fe) -> None:
    toks = _tokens(fe, "你好，世界。", emotion="happy", speaker="F7b")
    assert {t.emotion for t in toks} == {"emotion_happy"}
    assert {t.speaker for t in toks} == {"F7b"}


def test_unknown_emotion_or_bad_speaker_rejected(fe) -> None:
    with pytest.raises(InvalidInput):
        fe.analyze("你好", emotion="furious")
    with pytest.raises(InvalidInput):
        fe.analyze("你好", speaker="a$b")


def test_sentences_split_and_long_ones_cut(fe) -> None:
    assert [s.text for s in fe.analyze("第一句。第二句！第三句？")] == [
        "第一句。",
        "第二句！",
        "第三句？",
    ]
    long_text = "我们今天在公园里面散步，看到很多人在跳舞唱歌" * 20 + "。"
    sentences = fe.analyze(long_text)
    assert len(sentences) > 1
    for s in sentences:
        toks = parse_symbols(s.symbols)
        assert len(toks) <= 256 and toks[-1].phone == "#4"


def test_letters_are_spelled(fe) -> None:
    """A voice without English phones spells with Mandarin letter names
    (test_english.py covers English voices)."""
    toks = _tokens(fe, "CPU", english=False)
    assert [t.phone for t in toks if not t.phone.startswith("#")][:2] == ["xx_c", "i_c"]


def test_empty_or_punctuation_only_gives_no_sentence(fe) -> None:
    assert fe.analyze("") == [] and fe.analyze("……！") == []


def test_natural_pauses_after_sentences(fe) -> None:
    """A sentence pause after each sentence another follows, none after the last;
    a clause-sized one where an over-long sentence was cut; none where SSML markup
    (not punctuation) ends a piece; an SSML break replaces the pause."""
    sentences = fe.analyze("第一句。第二句！第三句")
    assert [s.pause_after_ms for s in sentences] == [SENTENCE_PAUSE_MS] * 2 + [0]
    assert [s.break_after_ms for s in sentences] == [0, 0, 0]
    long_text = "我们今天在公园里面散步，看到很多人在跳舞唱歌" * 20 + "。再见。"
    pieces = fe.analyze(long_text)
    assert len(pieces) > 3
    assert [s.pause_after_ms for s in pieces[:-2]] == [SPLIT_PAUSE_MS] * (
        len(pieces) - 2
    )
    assert [s.pause_after_ms for s in pieces[-2:]] == [SENTENCE_PAUSE_MS, 0]
    ssml = fe.analyze(
        '<speak>你好。<break time="100ms"/>世界<prosody rate="fast">快</prosody>'
        "慢。好</speak>"
    )
    assert [(s.break_after_ms, s.pause_after_ms) for s in ssml] == [
        (100, 0),
        (0, 0),
        (0, 0),
        (0, SENTENCE_PAUSE_MS),
        (0, 0),
    ]
