"""Teacher <-> KAN-TTS token mapping and duration conversion (pure Python)."""

from __future__ import annotations

import pytest

from training.mapping import (
    assign_durations,
    pinyin_to_baker,
    plan_teacher,
    to_mel_frames,
)


def _sym(phone: str, tone: str = "tone1") -> str:
    return "{" + f"{phone}${tone}$s_none$word_none$emotion_neutral$F7" + "}"


@pytest.mark.parametrize(
    ("pinyin", "expected"),
    [
        ("zhuang4", ("zh", "uang4")),
        ("yi1", ("^", "i1")),
        ("you3", ("^", "iou3")),
        ("wo3", ("^", "uo3")),
        ("yu2", ("^", "v2")),
        ("ju4", ("j", "v4")),
        ("quan2", ("q", "van2")),
        ("xue2", ("x", "ve2")),
        ("zi3", ("z", "ii3")),
        ("shi4", ("sh", "iii4")),
        ("ri4", ("r", "iii4")),
        ("liu2", ("l", "iou2")),
        ("gui4", ("g", "uei4")),
        ("lun2", ("l", "uen2")),
        ("lv4", ("l", "v4")),
        ("er2", ("^", "er2")),
        ("an1", ("^", "an1")),
        ("ng2", ("^", "en2")),
    ],
)
def test_pinyin_to_baker(pinyin, expected):
    assert pinyin_to_baker(pinyin) == expected


def test_plan_inserts_word_internal_pauses_and_maps_breaks():
    # 你好 #3 我们 #4
    syms = " ".join(
        [
            _sym("n_c"),
            _sym("i_c"),
            _sym("h_c"),
            _sym("ao_c"),
            _sym("#3"),
            _sym("w_c"),
            _sym("o_c"),
            _sym("m_c"),
            _sym("en_c"),
            _sym("#4"),
        ]
    )
    plan = plan_teacher(syms, ["ni2", "hao3", "wo3", "men5"])
    assert plan.phones == [
        "sil",
        "n",
        "i2",
        "#0",
        "h",
        "ao3",
        "#3",
        "^",
        "uo3",
        "#0",
        "m",
        "en5",
        "sil",
    ]
    assert plan.owner == [-1, 0, 1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9]


def test_plan_erhua_adds_er5():
    syms = " ".join([_sym("n_c"), _sym("ar_c"), _sym("#4")])
    plan = plan_teacher(syms, ["na3", "er5"])
    assert plan.phones == ["sil", "n", "a3", "er5", "sil"]
    assert plan.owner == [-1, 0, 1, 1, 2]


def test_plan_rejects_mismatched_pinyin():
    syms = " ".join([_sym("n_c"), _sym("i_c"), _sym("#4")])
    with pytest.raises(ValueError):
        plan_teacher(syms, ["ni3", "hao3"])


def test_break_frames_split_by_silence():
    syms = " ".join(
        [_sym("n_c"), _sym("i_c"), _sym("#3"), _sym("h_c"), _sym("ao_c"), _sym("#4")]
    )
    plan = plan_teacher(syms, ["ni3", "hao3"])
    # teacher: sil n i3 #3 h ao3 sil eos
    dur = [4, 3, 5, 6, 2, 7, 3, 2]
    voiced = (
        [False] * 3
        + [True] * 1  # sil: last frame is the onset of n
        + [True] * 8  # n, i3
        + [True, True, False, False, False, True]  # #3: tail, pause, onset
        + [True] * 9  # h, ao3
        + [True, False, False]
        + [False, False]
    )  # sil + eos
    ours, start, end = assign_durations(plan, dur, voiced)
    assert start == 3 and end == sum(dur)
    assert ours == [3 + 1, 5 + 2, 3, 2 + 1, 7 + 1, 4]
    assert sum(ours) == end - start


def test_break_without_silence_gets_zero_frames():
    syms = " ".join(
        [_sym("n_c"), _sym("i_c"), _sym("#1"), _sym("h_c"), _sym("ao_c"), _sym("#4")]
    )
    plan = plan_teacher(syms, ["ni3", "hao3"])
    dur = [2, 3, 5, 6, 2, 7, 3, 2]
    voiced = [False, False] + [True] * 23 + [False] * 5
    ours, _, _ = assign_durations(plan, dur, voiced)
    assert ours[2] == 0 and ours[1] == 5 + 6
    assert ours[5] == 5  # the final #4 keeps the trailing silence


def test_word_internal_closure_goes_to_next_initial():
    syms = " ".join([_sym("d_c"), _sym("a_c"), _sym("g_c"), _sym("e_c"), _sym("#4")])
    plan = plan_teacher(syms, ["da4", "ge1"])  # sil d a4 #0 g e1 sil eos
    dur = [1, 2, 4, 4, 2, 4, 1, 1]
    voiced = (
        [False] + [True] * 6 + [True, True, False, False] + [True] * 6 + [False] * 2
    )
    ours, _, _ = assign_durations(plan, dur, voiced)
    assert ours == [2, 4 + 2, 2 + 2, 4, 2]


@pytest.mark.parametrize("n_frames", [1, 17, 100, 257])
def test_to_mel_frames_sums_exactly(n_frames):
    durs = [3, 0, 5, 7, 1, 0, 12, 4]
    out = to_mel_frames(durs, n_frames)
    assert sum(out) == n_frames
    assert all(d >= 0 for d in out)
    assert out[1] == 0 or durs[1] > 0  # zero stays zero-ish: boundaries never cross


def test_to_mel_frames_rounds_boundaries_not_durations():
    # 12.5 ms teacher frames -> 11.61 ms mel frames: scale 1.0767 per frame.
    durs = [1] * 40
    out = to_mel_frames(durs, 43)
    assert sum(out) == 43 and set(out) <= {1, 2}
    assert out.count(2) == 3
