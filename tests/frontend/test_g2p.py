"""G2P: one syllable per Chinese character, polyphones, 儿, lexicons."""

from __future__ import annotations

import pytest

from frontend_svc import Frontend
from tts_common.errors import InvalidInput


def test_one_syllable_per_han_char_and_others_skipped(fe) -> None:
    text = "Hi，我有3个㐀字！"
    got = fe.g2p(text)
    assert len(got) == 5  # 我 有 个 㐀 字 (3, Hi and punctuation are skipped)
    assert all(s[-1] in "12345" and s[:-1].isalpha() for s in got)


def test_v_for_u_umlaut_and_neutral_tone(fe) -> None:
    assert fe.g2p("绿色", sandhi=False) == ["lv4", "se4"]
    assert fe.g2p("我们", sandhi=False) == ["wo3", "men5"]


@pytest.mark.parametrize(
    ("text", "index", "expected"),
    [
        ("银行在路边", 1, "hang2"),
        ("他走路很行", 4, "xing2"),
        ("他还没有来", 1, "hai2"),
        ("请把钱还给我", 3, "huan2"),
        ("这条河很长", 4, "chang2"),
        ("他是校长", 3, "zhang3"),
        ("我看完了", 3, "le5"),
        ("音乐很好听", 1, "yue4"),
        ("快乐的一天", 1, "le4"),
        ("重新开始", 0, "chong2"),
        ("这个很重", 3, "zhong4"),
    ],
)
def test_frequent_polyphones(fe, text: str, index: int, expected: str) -> None:
    assert fe.g2p(text, sandhi=False)[index] == expected


def test_er_keeps_its_own_syllable(fe) -> None:
    assert fe.g2p("哪儿", sandhi=False) == ["na3", "er5"]
    assert fe.g2p("儿子", sandhi=False)[0] == "er2"
    assert fe.g2p("女儿", sandhi=False) == ["nv3", "er2"]


def test_request_lexicon_overrides(fe) -> None:
    sents = fe.analyze("重庆很美", lexicon={"重庆": "zhong4 qing4"})
    assert sents[0].pinyin[:2] == ["zhong4", "qing4"]


def test_bad_request_lexicon_is_invalid_input(fe) -> None:
    with pytest.raises(InvalidInput):
        fe.analyze("你好", lexicon={"你好": "ni3"})
    with pytest.raises(InvalidInput):
        fe.analyze("你好", lexicon={"abc": "a1 b2 c3"})


def test_deployment_lexicon_file(tmp_path) -> None:
    path = tmp_path / "lexicon.txt"
    path.write_text("# custom\n长乐\tchang2 le4\n", encoding="utf-8")
    custom = Frontend(lexicon_path=path)
    assert custom.g2p("长乐很好", sandhi=False)[:2] == ["chang2", "le4"]


def test_bad_deployment_lexicon_names_the_line(tmp_path) -> None:
    path = tmp_path / "lexicon.txt"
    path.write_text("长乐\tchang2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=":1:"):
        Frontend(lexicon_path=path)
