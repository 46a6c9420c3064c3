"""Reading numbers aloud: cardinals, digit strings, decimals, signs.

The integer -> Chinese numeral conversion is written here (``10010000`` -> 一千零一万,
``100000001000`` -> 一千亿零一千: a whole zero group between two others is read 零,
which cn2an 0.5 drops). The house conventions on top of it: 两 for a leading 2
before 百/千/万/亿, digit-by-digit decimals, 幺 for 1 in telephone numbers only.
"""

from __future__ import annotations

import re

DIGITS = "零一二三四五六七八九"
MAX_CARDINAL_DIGITS = 16
"""Longer integers are read digit by digit."""
_GROUP_UNITS = ("", "万", "亿", "万亿")
_PLACES = ("千", "百", "十", "")


def _read_group(group: str) -> str:
    """One 4-digit group (``"0105"`` -> 零一百零五 without the leading 零)."""
    out: list[str] = []
    zero = False
    for digit, place in zip(group.zfill(4), _PLACES, strict=True):
        if digit == "0":
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[ord(digit) - 48] + place)
    return "".join(out)


def _cardinal(digits: str) -> str:
    """``digits`` (no leading zeros, at most 16) as a Chinese cardinal."""
    if digits == "0":
        return "零"
    groups = []
    while digits:
        groups.append(digits[-4:])
        digits = digits[:-4]
    out: list[str] = []
    gap = False  # a zero group or a group under 1000 follows a spoken one: 零
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if int(group) == 0:
            gap = bool(out)
            continue
        if out and (gap or group[0] == "0"):
            out.append("零")
        unit = _GROUP_UNITS[index]
        if index == 3 and int(groups[2]):
            unit = "万"  # 一万二千亿, not 一万亿二千亿
        spoken = _read_group(group)
        if index and out and spoken.startswith("一十"):
            spoken = spoken[1:]  # NeMo: 一亿零十万 (a 万/亿 group of 10-19 after 零)
        out.append(spoken + unit)
        gap = False
    text = "".join(out)
    return text[1:] if text.startswith("一十") else text  # 十二, 十万, not 一十二


def read_digits(digits: str, yao: bool = False) -> str:
    """``"110"`` -> 一一零 (幺幺零 with ``yao``); non-digits are dropped."""
    table = DIGITS.replace("一", "幺") if yao else DIGITS
    return "".join(table[ord(c) - 48] for c in digits if "0" <= c <= "9")


def digits_of(m: re.Match[str]) -> str:
    """A regex callback: the whole match read digit by digit."""
    return read_digits(m.group())


def read_int(digits: str, liang: bool = True) -> str:
    """Cardinal reading of a digit string: ``"2000"`` -> 两千, ``"10"`` -> 十."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > MAX_CARDINAL_DIGITS or not (digits.isascii() and digits.isdigit()):
        return read_digits(digits)
    text = _cardinal(digits)
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
    return sign + text + read_fraction(frac)


def read_fraction(frac: str | None) -> str:
    """Digits after a decimal point: ``"05"`` -> 点零五; nothing for ``""``/None."""
    return "点" + read_digits(frac) if frac else ""


_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")


def read_number(number: str) -> str:
    """Cardinal or decimal reading of one ``[-+]digits[.digits]`` token."""
    if not _NUMBER_RE.fullmatch(number.replace(",", "")):
        return read_digits(number)
    return read_decimal(number)
