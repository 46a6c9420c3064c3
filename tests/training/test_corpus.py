"""``training.corpus``: what the teacher is asked to say is Mandarin only."""

from __future__ import annotations

import re

from frontend_svc.english import ENGLISH_PHONES
from training.corpus import analyse


def test_latin_letters_are_spelled_with_mandarin_letter_names() -> None:
    """The teacher (and the demo voice it teaches) has no English phones, so a
    train number or a brand is spelled as the demo voice spells it."""
    rows = analyse(["开往哈尔滨的G958次列车现在开始检票。", "请打开WiFi。"])
    assert [row["text"] for row in rows] == [
        "开往哈尔滨的G958次列车现在开始检票。",
        "请打开WiFi。",
    ]
    for row in rows:
        assert all(re.fullmatch(r"[a-z]+[1-5]", s) for s in row["pinyin"]), row
        phones = {token.split("$")[0].strip("{") for token in row["symbols"].split()}
        assert not phones & ENGLISH_PHONES, row
    assert len(rows[1]["pinyin"]) > 3  # W-i-F-i letter by letter, not one word
