"""Pinyin syllables to KAN-TTS phones (py2phoneMap), with erhua merging and letters."""

from __future__ import annotations

import logging
from importlib import resources

from tts_common.symbols import phone_inventory

_LOGGER = logging.getLogger(__name__)

# Syllabic nasals and ê are not in py2phoneMap; these are the nearest KAN-TTS finals.
_EXTRA = {
    "n": ("ge", "en_c"),
    "ng": ("ge", "eng_c"),
    "m": ("m_c", "u_c"),
    "hm": ("h_c", "en_c"),
    "hng": ("h_c", "eng_c"),
    "ê": ("ge", "ei_c"),
    "ei": ("ge", "ei_c"),
    # Rare syllables of a few characters, outside the KAN-TTS table.
    "biang": ("b_c", "iang_c"), "len": ("l_c", "en_c"), "din": ("d_c", "in_c"),
    "rua": ("r_c", "ua_c"), "bong": ("b_c", "ong_c"), "nia": ("n_c", "ia_c"),
    "wong": ("w_c", "ong_c"), "fiao": ("f_c", "iao_c"), "cei": ("c_c", "ei_c"),
}  # fmt: skip

LETTERS: dict[str, tuple[str, ...]] = {
    "A": ("ei1",), "B": ("bi4",), "C": ("xi1",), "D": ("di4",), "E": ("yi4",),
    "F": ("ai2", "fu5"), "G": ("ji4",), "H": ("ai1", "qi1"), "I": ("ai4",),
    "J": ("jie4",), "K": ("kei4",), "L": ("ai2", "le5"), "M": ("ai2", "mu5"),
    "N": ("en1",), "O": ("ou1",), "P": ("pi1",), "Q": ("ke4", "you1"),
    "R": ("a4", "er5"), "S": ("ai2", "si5"), "T": ("ti4",), "U": ("you1",),
    "V": ("wei1",), "W": ("da2", "bu5", "liu1"), "X": ("ai2", "ke4", "si5"),
    "Y": ("wai4",), "Z": ("zei4",),
}  # fmt: skip
"""How a Mandarin speaker spells Latin letters, as pinyin syllables."""


class PhoneMapper:
    """Toneless pinyin syllable -> KAN-TTS phones."""

    def __init__(self) -> None:
        text = (
            resources.files("tts_common")
            .joinpath("kantts_data/py2phoneMap.txt")
            .read_text(encoding="utf-8")
        )
        self._map: dict[str, tuple[str, ...]] = {}
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) == 2:
                self._map[parts[0].strip()] = tuple(parts[1].split())
        for key, phones in _EXTRA.items():
            self._map.setdefault(key, phones)
        inventory = set(phone_inventory())
        bad = {p for ph in self._map.values() for p in ph} - inventory
        if bad:  # a corrupted data file must fail at start-up, not per request
            raise RuntimeError(f"py2phoneMap has phones outside the inventory: {bad}")
        self._inventory = inventory

    def phones(self, syllable: str) -> tuple[str, ...] | None:
        """Phones for a toneless syllable (``v`` for ü), or ``None`` if unknown."""
        return self._map.get(_spelling(syllable))

    def erhua(self, syllable: str) -> tuple[str, ...] | None:
        """Phones of ``syllable`` + 儿 as one erhua syllable, or ``None``.

        py2phoneMap lists the common erhua syllables (``nar``); for the rest, the
        final takes its r-coloured variant when the phone set has one (``an_c`` ->
        ``anr_c``).
        """
        syllable = _spelling(syllable)
        listed = self._map.get(syllable + "r")
        if listed is not None:
            return listed
        base = self._map.get(syllable)
        if not base:
            return None
        last = base[-1]
        if last.endswith("_c") and last[:-2] + "r_c" in self._inventory:
            return (*base[:-1], last[:-2] + "r_c")
        return None


def _spelling(syllable: str) -> str:
    """py2phoneMap writes ü after j/q/x/y as ``v`` (``jv``, ``yvan``), pinyin as ``u``."""
    if syllable[:1] in ("j", "q", "x", "y") and syllable[1:2] == "u":
        return syllable[0] + "v" + syllable[2:]
    return syllable
