"""English words in Chinese text: CMU phones, stress tones, flags, and the voice decides."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from frontend_svc import Frontend
from frontend_svc.english import (
    ENGLISH_PHONES,
    EnglishReader,
    _cmu,
    letter_syllables,
    syllabify,
    voice_speaks_english,
)
from frontend_svc.english_oov import LetterToPhone
from tests.frontend.conftest import FRONTEND_DEV
from tts_common.symbols import parse_symbols, phone_inventory, tone_inventory

FIXTURE = FRONTEND_DEV / "english_mixed.tsv"
DEMO = Path(__file__).resolve().parents[2] / "voices" / "demo"
_LATIN = re.compile(r"[A-Za-z]")


def _cases() -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        sentence, expected = line.split("\t")
        words = [tuple(w.split("=", 1)) for w in expected.split(" | ")]
        out.append((sentence, [(t.strip(), p.strip()) for t, p in words]))
    return out


def _expected_tokens(arpabet: str) -> list[tuple[str, str]]:
    """(phone, tone) per phone: a syllable's tone is its vowel's stress, 1 ->
    tone1, 0/2 -> tone0 (KAN-TTS EnXXSyllableFormatter); `` . `` separates
    syllables given by the fixture (spelled letters), as in KAN-TTS prons."""
    return [
        (p.lower(), f"tone{t}")
        for chunk in arpabet.split(" . ")  # a spelled letter is its own syllable(s)
        for phones, t in syllabify(chunk.split())
        for p in phones
    ]


def _english_words(fe: Frontend, text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    for sentence in fe.analyze(text):
        tokens = parse_symbols(sentence.symbols)
        for span in sentence.words:
            if _LATIN.search(span.text):
                part = tokens[span.first_symbol : span.first_symbol + span.num_symbols]
                out.append((span.text, [(t.phone, t.tone) for t in part]))
    return out


def test_fixture_has_200_sentences() -> None:
    assert len(_cases()) >= 200


def test_every_english_word_of_the_fixture(fe: Frontend) -> None:
    """Phones and stress tones of every English word, exactly as the fixture says."""
    wrong = []
    total = 0
    for sentence, expected in _cases():
        got = _english_words(fe, sentence)
        total += len(expected)
        want = [(t, _expected_tokens(p)) for t, p in expected]
        if got != want:
            wrong.append((sentence, got, want))
    assert not wrong, f"{len(wrong)} of {total} words wrong; first: {wrong[:3]}"


def test_symbols_follow_the_kantts_format(fe: Frontend) -> None:
    symbols = fe.analyze("我用iPhone拍照")[0].symbols.split()
    assert symbols[4] == "{#1$tone_none$s_none$word_none$emotion_none$F7}"
    # AY1 . F OW2 N: two syllables, primary stress tone1, secondary tone0
    assert symbols[5:9] == [
        "{ay$tone1$s_both$word_begin$emotion_neutral$F7}",
        "{f$tone0$s_begin$word_middle$emotion_neutral$F7}",
        "{ow$tone0$s_middle$word_middle$emotion_neutral$F7}",
        "{n$tone0$s_end$word_end$emotion_neutral$F7}",
    ]
    assert symbols[9] == "{#1$tone_none$s_none$word_none$emotion_none$F7}"


def test_single_syllable_word_flags(fe: Frontend) -> None:
    tokens = parse_symbols(fe.analyze("world")[0].symbols)
    assert [(t.phone, t.syllable_flag, t.word_segment) for t in tokens[:4]] == [
        ("w", "s_begin", "word_begin"),
        ("er", "s_middle", "word_middle"),
        ("l", "s_middle", "word_middle"),
        ("d", "s_end", "word_end"),
    ]


@pytest.mark.parametrize(
    ("pron", "syllables"),
    [
        ("HH AH0 L OW1", [("hh", "ah"), ("l", "ow")]),
        ("AH0 B S T R AE1 K T", [("ah", "b"), ("s", "t", "r", "ae", "k", "t")]),
        (
            "M AY1 K R OW2 S AO1 F T",
            [("m", "ay"), ("k", "r", "ow"), ("s", "ao", "f", "t")],
        ),
        ("D AH1 B AH0 L Y UW0", [("d", "ah"), ("b", "ah", "l"), ("y", "uw")]),
        ("IH0 K S EH1 L", [("ih", "k"), ("s", "eh", "l")]),
    ],
)
def test_syllabify_by_maximal_onset(
    pron: str, syllables: list[tuple[str, ...]]
) -> None:
    assert [p for p, _ in syllabify(pron.split())] == syllables


def test_acronyms_spelled_with_english_letter_names() -> None:
    reader = EnglishReader()
    assert reader.read("GPU") == letter_syllables("GPU")
    assert reader.read("GPU") == [(("jh", "iy"), 0), (("p", "iy"), 0), (("y", "uw"), 1)]
    assert reader.analyze("HTML")[1]  # CMU spells it: spelled
    assert not reader.analyze("NASA")[1]  # CMU reads it as a word
    assert reader.read("OK") == [(("ow",), 1), (("k", "ey"), 1)]
    assert reader.read("G") == [(("jh", "iy"), 1)]


def test_unknown_words_fall_back_to_a_known_stem_a_learned_reading_or_spelling() -> (
    None
):
    reader = EnglishReader()
    stems = reader.read("podcasts")
    assert stems[-1][0][-1] == "z"
    # Not in CMU, pronounceable: the learned reading, not letter names.
    sylls, spelled = reader.analyze("Huawei")
    assert not spelled and sylls != letter_syllables("Huawei")
    assert 2 <= len(sylls) <= 3 and sum(tone for _, tone in sylls) == 1
    assert all(p in ENGLISH_PHONES for phones, _ in sylls for p in phones)
    # Four consonants in a row (rbnb) or no vowel: spelled.
    assert reader.analyze("Airbnb") == (letter_syllables("Airbnb"), True)
    assert reader.analyze("Xkcdq") == (letter_syllables("Xkcdq"), True)


def test_the_learned_reading_reproduces_the_dictionary_it_was_trained_on() -> None:
    """A check of the numpy recurrence and the symbol order against g2p_en's weights:
    a wrong gate order or phone table reads almost no dictionary word right."""
    model = LetterToPhone()
    words = ["hello", "zoom", "selfie", "tiktok", "emoji", "station", "computer",
             "banana", "window", "market", "teacher", "summer"]  # fmt: skip
    cmu = _cmu()
    exact = sum(" ".join(model(w)) == cmu[w] for w in words)
    assert exact >= len(words) // 2, [(w, model(w), cmu[w]) for w in words]


def test_mixed_tokens(fe: Frontend) -> None:
    words = dict(_english_words(fe, "COVID-19和x86还有5G"))
    assert set(words) == {"COVID", "x", "G"}
    pinyin = fe.analyze("COVID-19疫情")[0].pinyin
    assert "fu4" not in pinyin and pinyin[2:4] == ["shi2", "jiu3"]


@pytest.mark.parametrize(
    ("text", "word", "phones"),
    [
        ("我说yes就好", "yes", ["y", "eh", "s"]),
        ("下载app", "app", ["ae", "p"]),
        ("我们team很强", "team", ["t", "iy", "m"]),
        ("看nba比赛", "NBA", ["eh", "n", "b", "iy", "ey"]),  # CMU's entry spells it
        ("我的id是多少", "ID", ["ay", "d", "iy"]),  # 2 letters: an acronym
    ],
)
def test_lowercase_words_in_chinese_text(
    fe: Frontend, text: str, word: str, phones: list[str]
) -> None:
    """A lowercase run touching Chinese is read as a word when it is one (3-4
    letters, in the dictionary as a word), else spelled as an acronym."""
    words = dict(_english_words(fe, text))
    assert list(words) == [word]
    assert [p for p, _ in words[word]] == phones


def test_a_voice_without_english_phones_spells_in_mandarin(fe: Frontend) -> None:
    sentence = fe.analyze("我用GPU", english=False)[0]
    phones = {t.phone for t in parse_symbols(sentence.symbols)}
    assert not phones & ENGLISH_PHONES
    assert sentence.pinyin[2:] == ["ji4", "pi1", "you1"]


def test_voice_inventory_decides() -> None:
    from frontend_svc.config import FrontendConfig

    assert FrontendConfig(model_dir=str(DEMO)).voices_without_english() == [
        "demo_female"
    ]
    golden = (
        Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "small_causal"
    )
    assert FrontendConfig(model_dir=str(golden)).voices_without_english() == []
    assert voice_speaks_english(None)
    assert not voice_speaks_english(["a_c", "b_c"])
    info = json.loads((DEMO / "voices/demo_female/voice_info.json").read_text())
    assert not ENGLISH_PHONES & set(info["phones"])


def test_every_symbol_is_in_the_inventory(fe: Frontend) -> None:
    """Both readings of every fixture sentence encode with the KAN-TTS inventory;
    the demo voice's reading stays inside its own phone list."""
    phones, tones = set(phone_inventory()), set(tone_inventory())
    demo = set(
        json.loads((DEMO / "voices/demo_female/voice_info.json").read_text())["phones"]
    )
    for sentence, _ in _cases():
        for english in (True, False):
            for out in fe.analyze(sentence, english=english):
                for token in parse_symbols(out.symbols):
                    assert token.phone in phones and token.tone in tones
                    if not english and not token.phone.startswith("#"):
                        assert token.phone in demo, (sentence, token)


def test_demo_voice_speaks_fixture_sentences(fe: Frontend) -> None:
    """The demo voice's acoustic model takes the spelled reading (every sentence's
    symbols are checked against its phones above; the model runs on a sample of
    20, as each costs about a second on a shared CPU)."""
    torch = pytest.importorskip("torch")
    from acoustic_svc import load_acoustic_model

    am = load_acoustic_model(DEMO)
    text = "".join(s for s, _ in _cases()[::12])
    with torch.inference_mode():
        for out in fe.analyze(text, english=False):
            mel = am.mel(out.symbols)
            assert mel.shape[0] > 0
