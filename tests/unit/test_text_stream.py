"""The sentence-closing rules of text-in streaming (gateway/text_stream.py)."""

from __future__ import annotations

import random

import pytest

from gateway.text_stream import (
    PAUSE_AFTER_MS,
    Segment,
    TextAccumulator,
    speakable,
)

PARAGRAPH = (
    "今天天气很好！我们去公园吧？他说：“好啊。”圆周率约等于3.14，"
    "门票1,000元……真贵；算了。\n第二段从这里开始"
)


def _texts(segments: list[Segment]) -> list[str]:
    return [s.text for s in segments]


def _feed_all(pieces: list[str], acc: TextAccumulator | None = None) -> list[Segment]:
    acc = acc or TextAccumulator()
    out: list[Segment] = []
    for piece in pieces:
        out.extend(acc.feed(piece))
    end = acc.end()
    return out + ([end] if end is not None else [])


def test_a_sentence_closes_only_once_the_next_character_arrives() -> None:
    """The end mark alone is not enough: more marks or a closing quote may follow."""
    acc = TextAccumulator()
    assert acc.feed("今天天气很好。") == []
    assert acc.pending == "今天天气很好。"
    assert acc.feed("我") == [Segment("今天天气很好。", "sentence")]
    assert acc.pending == "我"


@pytest.mark.parametrize(
    ("pieces", "first"),
    [
        (["他说：“好啊。", "”然后"], "他说：“好啊。”"),  # closing quote stays
        (["真的吗？", "！", "是"], "真的吗？！"),  # more end marks stay
        (["等等……", "好"], "等等……"),
        (["（完。", "）下"], "（完。）"),
        (["Really?!", " Yes"], "Really?!"),
    ],
)
def test_end_marks_and_closers_stay_with_their_sentence(
    pieces: list[str], first: str
) -> None:
    assert _texts(_feed_all(pieces))[0] == first


def test_each_sentence_end_mark_closes() -> None:
    for mark in "。！？!?；…｡":
        acc = TextAccumulator()
        assert acc.feed(f"你好{mark}再") == [Segment(f"你好{mark}", "sentence")], mark


def test_a_line_break_closes_at_once() -> None:
    acc = TextAccumulator()
    assert acc.feed("标题\n") == [Segment("标题\n", "sentence")]
    assert acc.feed("好的。\n") == [Segment("好的。\n", "sentence")]
    assert acc.pending == ""


@pytest.mark.parametrize(
    "text",
    ["圆周率是3.14左右", "门票1,000元整", "会议10:30开始", "访问example.com看看",
     "U.S.A是缩写", "版本v1.2发布", "1. 打开设置"],
)  # fmt: skip
def test_numbers_and_dotted_words_do_not_close(text: str) -> None:
    """A '.' after a digit or before an ASCII letter or digit, and a clause mark
    between digits, are part of the number or word."""
    acc = TextAccumulator(clause_chars=5, max_chars=100)
    assert acc.feed(text + "很好") == []
    assert acc.end() == Segment(text + "很好", "end")


def test_a_dot_before_a_space_closes() -> None:
    acc = TextAccumulator()
    assert acc.feed("It is late. Go") == [Segment("It is late.", "sentence")]
    assert acc.pending == " Go"


def test_a_number_split_across_pieces_stays_whole() -> None:
    """'3.' then '14': the dot waits for its next character, a digit."""
    acc = TextAccumulator()
    assert acc.feed("约等于3.") == []
    assert acc.feed("14。好") == [Segment("约等于3.14。", "sentence")]


def test_long_text_without_an_end_closes_at_its_last_clause_break() -> None:
    clause = "我们明天早上八点在学校门口集合，"  # 16 characters
    acc = TextAccumulator(clause_chars=60, max_chars=150)
    out = []
    for ch in clause * 4 + "然后":
        out.extend(acc.feed(ch))
    # At 60 characters the last clause break confirmed is the third one.
    assert out == [Segment(clause * 3, "clause")]
    assert acc.pending.startswith(clause[:-1])


def test_a_clause_break_between_digits_is_no_cut() -> None:
    acc = TextAccumulator(clause_chars=10, max_chars=100)
    assert acc.feed("总共有一万二千人，其中1,000人") == [
        Segment("总共有一万二千人，", "clause")
    ]


def test_text_with_no_break_at_all_is_cut_at_the_limit() -> None:
    acc = TextAccumulator(clause_chars=10, max_chars=20)
    out = acc.feed("天" * 45)
    assert out == [Segment("天" * 20, "length"), Segment("天" * 20, "length")]
    assert acc.pending == "天" * 5


def test_the_limit_cut_prefers_a_space_and_spares_ascii_words() -> None:
    acc = TextAccumulator(clause_chars=10, max_chars=20)
    assert acc.feed("你好 世界" + "天" * 16) == [Segment("你好 ", "length")]
    acc = TextAccumulator(clause_chars=10, max_chars=20)
    assert acc.feed("天" * 17 + "Python3好") == [Segment("天" * 17, "length")]


def test_a_sentence_end_past_the_limit_does_not_make_a_huge_segment() -> None:
    acc = TextAccumulator(clause_chars=10, max_chars=20)
    out = acc.feed("天" * 30 + "。好")
    assert all(len(s.text) <= 21 for s in out)
    assert "".join(_texts(out)) + acc.pending == "天" * 30 + "。好"


def test_flush_closes_everything_and_keeps_the_reason_of_its_text() -> None:
    acc = TextAccumulator()
    acc.feed("今天天气")
    assert acc.flush() == Segment("今天天气", "flush")
    acc.feed("很好。”")
    assert acc.flush() == Segment("很好。”", "sentence")
    assert acc.flush() is None
    assert acc.end() is None


def test_segments_with_nothing_to_speak_are_dropped() -> None:
    acc = TextAccumulator()
    assert acc.feed("\n\n……。”\n") == []
    assert acc.feed("好。\n") == [Segment("好。\n", "sentence")]
    acc.feed("😀！ ")
    assert acc.flush() is None
    assert not speakable("，。！…… 😀")
    assert speakable("a") and speakable("7") and speakable("好")


def test_pauses_follow_the_frontend() -> None:
    assert Segment("好。", "sentence").pause_after_ms == 400
    assert Segment("好，", "clause").pause_after_ms == 60
    assert {PAUSE_AFTER_MS[r] for r in ("length", "flush", "end")} == {0}


@pytest.mark.parametrize("seed", range(20))
def test_any_split_of_the_text_gives_the_same_segments(seed: int) -> None:
    """Pieces of any size, split anywhere (mid-word, mid-number), close the same
    segments as the whole text at once, and together they are the whole text."""
    whole = _feed_all([PARAGRAPH])
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(PARAGRAPH)), rng.randint(1, 30)))
    pieces = [PARAGRAPH[a:b] for a, b in zip([0, *cuts], [*cuts, None], strict=True)]
    assert _feed_all(pieces) == whole
    assert "".join(_texts(whole)) == PARAGRAPH
    assert _texts(whole) == [
        "今天天气很好！", "我们去公园吧？", "他说：“好啊。”",
        "圆周率约等于3.14，门票1,000元……", "真贵；", "算了。\n", "第二段从这里开始",
    ]  # fmt: skip
    assert [s.reason for s in whole][-1] == "end"


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        TextAccumulator(clause_chars=0)
    with pytest.raises(ValueError):
        TextAccumulator(clause_chars=50, max_chars=40)
