"""Reading numbers aloud: cardinals (via cn2an), digit strings, decimals, signs.

cn2an (MIT) does the integer -> Chinese numeral conversion (``10010000`` -> 一千零一万);
the house conventions on top of it are written here: 两 for a leading 2 before
百/千/万/亿, digit-by-digit decimals, 幺 for 1 in telephone numbers only.
"""

from __future__ import annotations

import re

import cn2an

DIGITS = "零一二三四五六七八九"
MAX_CARDINAL_DIGITS = 16
"""Longer integers are read digit by digit (cn2an stops at 10^16)."""


def read_digits(digits: str, yao: bool = False) -> str:
    """``"110"`` -> 一一零 (幺幺零 with ``yao``); non-digits are dropped."""
    table = DIGITS.replace("一", "幺") if yao else DIGITS
    return "".join(table[ord(c) - 48] for c in digits if "0" <= c <= "9")


def read_int(digits: str, liang: bool = True) -> str:
    """Cardinal reading of a digit string: ``"2000"`` -> 两千, ``"10"`` -> 十."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > MAX_CARDINAL_DIGITS or not (digits.isascii() and digits.isdigit()):
        return read_digits(digits)
    text: str = cn2an.an2cn(digits)  # cn2an is untyped
    if liang and len(digits) >= 3 and text.startswith("二") and text[1] in "百千万亿":
        text = "两" + text[1:]  # house convention: 两百, 两千, 两万, 两亿
    return text


def read_decimal(number: str, liang: bool = True) -> str:
    """``"-12.50"`` -> 负十二点五零; ``".5"`` -> 零点五; commas are ignored."""
    number = number.replace(",", "").replace("，", "")
    sign = ""
    if number[:1] in "-−－":
        sign, number = "负", number[1:]
    elif number[:1] == "+":
        sign, number = "正", number[1:]
    whole, _, frac = number.partition(".")
    text = read_int(whole, liang) if whole else "零"
    if frac:
        text += "点" + read_digits(frac)
    return sign + text


_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")


def read_number(number: str) -> str:
    """Cardinal or decimal reading of one ``[-+]digits[.digits]`` token."""
    if not _NUMBER_RE.fullmatch(number.replace(",", "")):
        return read_digits(number)
    return read_decimal(number)
