"""Character-level clean-up: control characters, full width, traditional -> simplified.

Traditional -> simplified uses OpenCC's ``t2s`` tables through the pure-Python
``opencc-python-reimplemented`` wheel (Apache-2.0), which ships its dictionaries and
works offline. Width folding and control-character removal are hand-written here
(``unicodedata`` would also fold Chinese punctuation, which the prosody stage needs).
"""

from __future__ import annotations

import re
import unicodedata

# Full-width ASCII variants (U+FF01-U+FF5E) fold to ASCII, except the Chinese
# punctuation that carries prosody (，。！？：；（）are kept as they are).
_KEEP_WIDE = set("，！？：；（）")
_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if chr(cp) not in _KEEP_WIDE}
_WIDTH[0x3000] = 0x20  # ideographic space
_WIDTH.update(
    {ord("￥"): ord("¥"), ord("￡"): ord("£"), ord("－"): ord("-"), ord("．"): ord(".")}
)
_WIDTH.update({ord(c): ord("-") for c in "−–"})
# Control and format characters (C0/C1 except tab/newline, zero-width, bidi marks).
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff0-\uffff]"
)
_SPACES_RE = re.compile(r"[ \t\r\f\v]+")
# CJK compatibility units (㎡ ㎏ ㎞ ㏄ ...) are symbols (category So) and would be
# stripped unread: spell them as the units the rules know (㎡ -> m², ㎧ -> m/s).
_UNIT_CHARS = {
    cp: re.sub(
        r"(?<=m)([23])$",
        lambda m: "²" if m.group() == "2" else "³",
        unicodedata.normalize("NFKC", chr(cp)).replace("\u2215", "/"),
    )
    for cp in range(0x3380, 0x33E0)
}
# Enumerators and numeral signs read as the numbers they are: ① -> 1, ⑴ -> (1),
# ㈠ -> (一), ❶ ➀ ➊ -> 1, Ⅲ -> 三 (Ⅱ型 -> 二型), subscripts (H₂O -> H2O); the
# ratio sign between numbers is 比 (People's Daily writes scores 21∶14, 6∶2∶2).
# Without this most are symbols and would be dropped unread.
_NUMERALS = "一二三四五六七八九十"
_ENCLOSED = {
    cp: unicodedata.normalize("NFKC", chr(cp))
    for cp in [
        *range(0x2460, 0x249C),
        0x24EA,
        *range(0x3220, 0x3244),
        *range(0x3280, 0x328A),
    ]
}
_ENCLOSED.update({0x2776 + i: str(i + 1) for i in range(10)})  # ❶-❿
_ENCLOSED.update({0x2780 + i: str(i + 1) for i in range(10)})  # ➀-➉
_ENCLOSED.update({0x278A + i: str(i + 1) for i in range(10)})  # ➊-➓
_ROMAN = [*_NUMERALS, "十一", "十二"]
_ENCLOSED.update({0x2160 + i: _ROMAN[i] for i in range(12)})  # Ⅰ-Ⅻ
_ENCLOSED.update({0x2170 + i: _ROMAN[i] for i in range(12)})  # ⅰ-ⅻ
_ENCLOSED.update({0x2080 + i: str(i) for i in range(10)})  # ₀-₉
# Superscript exponents other than a lone ² or ³ (which the unit rules read):
# 10⁻⁶ -> 10^-6, 2⁵ -> 2^5, for the power rule.
_RATIO_RE = re.compile(r"(?<=\d)\s*∶\s*(?=\d)")
_SUPER = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+", strict=True))
_SUPER_RE = re.compile("(?<=[0-9A-Za-z)])([⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
# Vulgar fractions: ½ -> 1/2, and 3½ -> 3又1/2, for the fraction rule to read.
_VULGAR = {
    ch: unicodedata.normalize("NFKC", ch).replace("\u2044", "/")
    for ch in "¼½¾⅐⅑⅒⅓⅔⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞"
}
_VULGAR_RE = re.compile("(\\d?)([" + "".join(_VULGAR) + "])")


class CharNormalizer:
    """Cleans text before the rule normalizer sees it."""

    def __init__(self) -> None:
        from opencc import OpenCC  # deferred: built by Frontend.__init__, not import

        self._t2s = OpenCC("t2s")
        # Other scripts' decimal digits (Arabic-Indic, Devanagari...) read as 0-9,
        # so every later rule can trust that \d means ASCII 0-9.
        self._digits = {
            cp: 48 + unicodedata.decimal(chr(cp))
            for cp in range(0x80, 0x20000)
            if chr(cp).isdecimal()
        }

    def __call__(self, text: str) -> str:
        """Drop control characters, fold width, convert traditional characters."""
        text = _CONTROL_RE.sub("", text)
        text = text.translate(_WIDTH)
        if not text.isascii():
            text = text.translate(self._digits).translate(_UNIT_CHARS)
            text = _RATIO_RE.sub("比", text.translate(_ENCLOSED))
            text = _VULGAR_RE.sub(_vulgar_fraction, text)
            text = _SUPER_RE.sub(_exponent, text)
        text = _SPACES_RE.sub(" ", text)
        if not text.isascii():
            text = self._t2s.convert(text)
        return text


def _exponent(m: re.Match[str]) -> str:
    sup = m.group()
    if sup in ("²", "³"):
        return sup
    return "^" + "".join(_SUPER[c] for c in sup)


def _vulgar_fraction(m: re.Match[str]) -> str:
    return (m[1] + "又" if m[1] else "") + _VULGAR[m[2]]


def strip_unpronounceable(text: str) -> str:
    """Remove emoji and other symbols (category So/Sk/Co/Cn/Cs) nobody reads aloud."""
    return "".join(
        ch
        for ch in text
        if ch.isascii()
        or unicodedata.category(ch) not in ("So", "Sk", "Co", "Cn", "Cs")
    )
