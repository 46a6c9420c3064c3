"""Tone sandhi rules, surface pinyin from g2p(sandhi=True)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # third tone: in a word, across a one-syllable word, 3-syllable structures
        ("水果", ["shui2", "guo3"]),
        ("我想", ["wo2", "xiang3"]),
        ("展览馆", ["zhan2", "lan2", "guan3"]),
        ("小老鼠", ["xiao3", "lao2", "shu3"]),
        # 不
        ("不要", ["bu2", "yao4"]),
        ("不听", ["bu4", "ting1"]),
        ("去不去", ["qu4", "bu5", "qu4"]),
        # 一
        ("一样", ["yi2", "yang4"]),
        ("一些", ["yi4", "xie1"]),
        ("一直", ["yi4", "zhi2"]),
        ("试一试", ["shi4", "yi5", "shi4"]),
        ("第一", ["di4", "yi1"]),
        ("一二一", ["yi1", "er4", "yi1"]),
        ("十一", ["shi2", "yi1"]),
        # neutral tones
        ("妈妈", ["ma1", "ma5"]),
        ("东西", ["dong1", "xi5"]),
        ("好吗", ["hao3", "ma5"]),
    ],
)
def test_sandhi(fe, text: str, expected: list[str]) -> None:
    assert fe.g2p(text) == expected


def test_sandhi_off_gives_citation_tones(fe) -> None:
    assert fe.g2p("水果", sandhi=False) == ["shui3", "guo3"]
    assert fe.g2p("不要", sandhi=False) == ["bu4", "yao4"]


def test_erhua_suffix_in_symbols(fe) -> None:
    sym = fe.analyze("哪儿")[0].symbols
    assert sym.startswith("{n_c$tone3$s_begin$word_begin$emotion_neutral$F7} ")
    assert "{ar_c$tone3$s_end$word_end$emotion_neutral$F7}" in sym
    assert "er_c" not in sym


def test_non_erhua_er_stays_a_syllable(fe) -> None:
    sym = fe.analyze("女儿")[0].symbols
    assert "{ge$tone2$s_begin$word_middle" in sym and "er_c" in sym
