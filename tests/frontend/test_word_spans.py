"""Word spans and SSML mark positions: which symbols speak each word, where marks are."""

from __future__ import annotations

import re

import pytest

from frontend_svc.prosody import MAX_TOKENS
from frontend_svc.sentence import Mark, Sentence
from tts_common.symbols import parse_symbols

_NOT_SPOKEN = re.compile(r"[\W_]+")  # punctuation and spaces


def _phones(sentence: Sentence) -> list[str]:
    return [t.phone for t in parse_symbols(sentence.symbols)]


def _check_spans(sentence: Sentence) -> None:
    """Spans in order, disjoint, inside the symbols, starting and ending on a phone,
    covering every phone; breaks are covered only between the letters of a spelled
    word; their texts join to the sentence without punctuation and spaces."""
    phones = _phones(sentence)
    covered: set[int] = set()
    end = 0
    for word in sentence.words:
        first, n = word.first_symbol, word.num_symbols
        assert first >= end and n > 0 and first + n <= len(phones), word
        assert not phones[first].startswith("#"), word
        assert not phones[first + n - 1].startswith("#"), word
        inside = phones[first : first + n]
        if not word.text.isascii():  # Chinese: two symbols a syllable, no break
            assert not any(p.startswith("#") for p in inside), word
            assert n % 2 == 0 and n <= 2 * len(word.text), word
        covered.update(range(first, first + n))
        end = first + n
    assert {i for i, p in enumerate(phones) if not p.startswith("#")} <= covered
    spoken = "".join(w.text for w in sentence.words)
    assert spoken == _NOT_SPOKEN.sub("", sentence.text)


@pytest.mark.parametrize(
    "text",
    [
        "银行行长说：明天下午3点开会。我们去哪儿玩？",
        "2024年5月1日，气温-3℃，涨了15.5%，电话13800138000。",
        "我在NBA看了hello world，还有iPhone 15。",
        "小孩儿一会儿就回来了……“好的！”",
        "<speak>今天<mark name='a'/>天气<emphasis level='strong'>非常</emphasis>好，"
        "<prosody pitch='+2st'>NBA<mark name='b'/>比赛</prosody>3点开始。</speak>",
        "<speak><p><s>第一句，有标点</s><s>第二句</s></p>"
        "<say-as interpret-as='characters'>AB1</say-as></speak>",
    ],
)
def test_spans_cover_the_words_in_order(fe, text: str) -> None:
    sentences = fe.analyze(text)
    assert sentences
    for sentence in sentences:
        _check_spans(sentence)


def test_spans_name_the_symbols_of_each_word(fe) -> None:
    """A Chinese syllable is two symbols (initial and final); an erhua syllable
    speaks two characters; a spelled word spans its letters and the #1 between."""
    [sentence] = fe.analyze("明天NBA去哪儿玩？", english=False)  # Mandarin letters
    got = [(w.text, w.first_symbol, w.num_symbols) for w in sentence.words]
    assert got == [("明天", 0, 4), ("NBA", 5, 8), ("去", 14, 2), ("哪儿", 17, 2),
                   ("玩", 20, 2)]  # fmt: skip
    phones = _phones(sentence)
    assert phones[5:13] == ["ge", "en_c", "#1", "b_c", "i_c", "#1", "ge", "ei_c"]
    assert phones[17:19] == ["n_c", "ar_c"]


def test_numbers_are_spanned_as_read(fe) -> None:
    """Digits are normalized to words first: the spans carry the words read out."""
    [sentence] = fe.analyze("下午3点")
    assert "".join(w.text for w in sentence.words) == "下午三点"
    assert sum(w.num_symbols for w in sentence.words) == 2 * len("下午三点")


def test_symbols_are_unchanged_by_spans(fe) -> None:
    """The same text with and without marks gives the same symbols."""
    plain = fe.analyze("<speak>今天天气很好，我们去公园。</speak>")
    marked = fe.analyze(
        '<speak>今天<mark name="a"/>天气很好，<mark name="b"/>我们去公园。</speak>'
    )
    assert [s.symbols for s in marked] == [s.symbols for s in plain]
    assert [s.words for s in marked] == [s.words for s in plain]


def test_long_sentence_pieces_have_their_own_spans(fe) -> None:
    """A sentence cut into pieces (over MAX_TOKENS) spans each piece's words."""
    text = "，".join(["我们明天早上八点在学校门口集合"] * 12) + "。"
    sentences = fe.analyze(text)
    assert len(sentences) > 1
    for sentence in sentences:
        assert len(_phones(sentence)) <= MAX_TOKENS
        _check_spans(sentence)
    joined = "".join(w.text for s in sentences for w in s.words)
    assert joined == _NOT_SPOKEN.sub("", text)


def _at(sentence: Sentence, mark: Mark) -> str:
    phones = _phones(sentence)
    return phones[mark.symbol_index] if mark.symbol_index < len(phones) else "END"


def test_marks_stand_before_the_next_word(fe) -> None:
    """A mark does not split the sentence; it stands before the next word (inside a
    word, before the next character's syllable); one between sentences starts the
    next sentence, one at the end ends the last."""
    ssml = (
        '<speak><mark name="start"/>今天天<mark name="mid"/>气很好<mark name="dot"/>。'
        '<mark name="next"/>我们<mark name="comma"/>，去公园。<mark name="end"/></speak>'
    )
    first, second = fe.analyze(ssml)
    assert [first.text, second.text] == ["今天天气很好。", "我们，去公园。"]
    assert [m.name for m in first.marks] == ["start", "mid"]
    assert [_at(first, m) for m in first.marks] == ["j_c", "q_c"]
    assert [m.name for m in second.marks] == ["dot", "next", "comma", "end"]
    assert [m.symbol_index for m in second.marks[:2]] == [0, 0]
    assert _at(second, second.marks[2]) == "q_c"  # after 我们 and its #3
    assert second.marks[3].symbol_index == len(_phones(second))


def test_marks_across_elements_and_breaks(fe) -> None:
    """A mark that no word follows before an element boundary or a break moves to
    the start of the next sentence; marks before any text start the first."""
    sentences = fe.analyze(
        '<speak><mark name="a"/><emphasis>你好</emphasis><mark name="b"/>'
        '<break time="200ms"/><mark name="c"/>世界<mark name="d"/></speak>'
    )
    assert [s.text for s in sentences] == ["你好", "世界"]
    assert sentences[0].marks == [Mark("a", 0)]
    end = len(_phones(sentences[1]))
    assert sentences[1].marks == [Mark("b", 0), Mark("c", 0), Mark("d", end)]
    assert sentences[0].break_after_ms == 200


@pytest.mark.parametrize(
    ("ssml", "message"),
    [
        ("<speak>你好<mark/></speak>", "<mark> needs a name"),
        ('<speak>你好<mark name=" "/></speak>', "<mark> needs a name"),
        (f'<speak>你好<mark name="{"x" * 129}"/></speak>', "1 to 128"),
        ('<speak><mark name="a">好</mark></speak>', "must be empty"),
    ],
)
def test_bad_marks(fe, ssml: str, message: str) -> None:
    from tts_common.errors import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        fe.analyze(ssml)
