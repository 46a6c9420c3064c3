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
            text = _VULGAR_RE.sub(_vulgar_fraction, text)
        text = _SPACES_RE.sub(" ", text)
        if not text.isascii():
            text = self._t2s.convert(text)
        return text


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
