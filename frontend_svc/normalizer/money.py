"""Money: a currency sign or ISO code before an amount, read after it (¥5 -> 五元).

English magnitudes become Chinese places first ($1.5 billion -> 十五亿美元).

Ranges keep one currency word at the end ($8000~9000 -> 八千到九千美元), and a currency
word already written after the amount is not doubled (¥1,234.56元 -> ...元).
"""

from __future__ import annotations

import re
from decimal import Decimal

from frontend_svc.normalizer.numbers import read_decimal

_SIGNS = {
    "¥": "元", "US$": "美元", "$": "美元", "HK$": "港元", "€": "欧元", "£": "英镑",
    "₩": "韩元", "JP¥": "日元", "JPY¥": "日元", "J¥": "日元", "NT$": "新台币",
    "C$": "加元", "CA$": "加元", "A$": "澳元", "AU$": "澳元", "S$": "新加坡元",
    "NZ$": "新西兰元", "₹": "印度卢比", "₽": "卢布", "฿": "泰铢", "₫": "越南盾",
    "MOP$": "澳门元", "R$": "巴西雷亚尔", "CAD$": "加元",
}  # fmt: skip
_CODES = {
    "RMB": "人民币", "CNY": "人民币", "USD": "美元", "HKD": "港元", "EUR": "欧元",
    "GBP": "英镑", "JPY": "日元", "KRW": "韩元", "TWD": "新台币", "CAD": "加元",
    "AUD": "澳元", "SGD": "新加坡元", "NZD": "新西兰元", "CHF": "瑞士法郎",
    "INR": "印度卢比", "RUB": "卢布", "THB": "泰铢", "VND": "越南盾",
    "MYR": "马来西亚令吉", "RM": "马来西亚令吉", "MOP": "澳门元", "SEK": "瑞典克朗",
    "AED": "阿联酋迪拉姆", "SAR": "沙特里亚尔", "BRL": "巴西雷亚尔",
}  # fmt: skip
_CODE_BEFORE_RE = re.compile(
    r"(?<![A-Za-z])(?:" + "|".join(_CODES) + r")\s?$", re.IGNORECASE
)


def ends_with_code(text: str) -> bool:
    """Whether ``text`` ends with a currency code (TWD45-6 is money, not a score)."""
    return _CODE_BEFORE_RE.search(text[-5:]) is not None


MONEY_WORDS = (
    "元|圆|块|美元|美金|欧元|港元|港币|英镑|日元|日圆|韩元|人民币|加元|加拿大元|澳元"
    "|新台币|台币|卢布|卢比|法郎|比索|克朗|里拉|雷亚尔|兰特|泰铢|令吉|新加坡元|新西兰元"
)
"""Currency words a writer may put after the amount as well as the sign."""

_SIGN_RE = "|".join(re.escape(s) for s in sorted(_SIGNS, key=len, reverse=True))
# Codes stand alone: not inside a word (CADRE, FARM5); case-insensitive (usd 5).
_CODE_RE = (
    r"(?<![A-Za-z])(?:"
    + "|".join(sorted(_CODES, key=len, reverse=True))
    + r")(?![A-Za-z])"
)
_CUR = rf"(?:{_SIGN_RE}|{_CODE_RE})"
_AMOUNT = r"(?:\d+(?:\.\d+)?|\.\d+)"
_MAG = r"[万亿千百]*"
# A minus before or after the sign (-¥50, ¥-50) makes the amount negative.
MONEY_RE = re.compile(
    rf"(?P<neg>(?<![A-Za-z0-9_.])-\s*)?(?P<cur>{_CUR})\s*(?P<neg2>-\s*)?(?P<n>{_AMOUNT})(?P<mag>{_MAG})"
    rf"(?:\s*[~～\-–—至到]\s*(?:{_CUR})?\s*(?P<n2>{_AMOUNT})(?P<mag2>{_MAG}))?"
    rf"(?=\s*(?P<tail>(?:{MONEY_WORDS})?))",
    re.I,
)


def _word(sign: str) -> str:
    key = sign.upper()
    return _SIGNS.get(key) or _CODES.get(key) or _SIGNS.get(sign, "")


def _amount(number: str) -> str:
    """Trailing decimal zeros of an amount are not read (14.60 -> 十四点六); a
    leading point is a zero (.99 -> 零点九九)."""
    number = "0" + number if number.startswith(".") else number
    return read_decimal(number.rstrip("0").rstrip(".") if "." in number else number)


def _money(m: re.Match[str]) -> str:
    sign = "负" if m["neg"] or m["neg2"] else ""
    spoken = sign + _amount(m["n"]) + m["mag"]
    if m["n2"]:
        spoken += "到" + _amount(m["n2"]) + m["mag2"]
    return spoken + ("" if m["tail"] else _word(m["cur"]))


# A code written after the amount (100RMB, 100 USD): the currency's name.
_CODE_AFTER_RE = re.compile(
    rf"(?<![\d.])(?P<n>\d+(?:\.\d+)?)(?P<mag>{_MAG})\s?(?P<cur>{_CODE_RE})", re.I
)


def _code_after(m: re.Match[str]) -> str:
    return _amount(m["n"]) + m["mag"] + _word(m["cur"])


# English magnitudes after a number ($1.5 billion, 300 million): the Chinese
# places a listener expects, written as digits with 万/亿 for the rules after.
_ENGLISH_MAG_RE = re.compile(
    r"(?<![\d.])(?P<n>\d+(?:\.\d+)?)\s*(?P<w>thousand|million|billion|trillion|bn)s?"
    r"(?![A-Za-z])",
    re.I,
)
_ENGLISH_MAG = {"thousand": 3, "million": 6, "billion": 9, "bn": 9, "trillion": 12}
_CHINESE_PLACES = ((12, "万亿"), (8, "亿"), (4, "万"))


def _english_magnitude(m: re.Match[str]) -> str:
    """1.5 billion -> 15亿, 300 million -> 3亿, 7.5 thousand -> 7500."""
    value = Decimal(m["n"]).scaleb(_ENGLISH_MAG[m["w"].lower()])
    for exponent, place in _CHINESE_PLACES:
        if value >= Decimal(1).scaleb(exponent):
            return format(value.scaleb(-exponent).normalize(), "f") + place
    return format(value.normalize(), "f")


RULES = [
    (_ENGLISH_MAG_RE, _english_magnitude),
    (MONEY_RE, _money),
    (_CODE_AFTER_RE, _code_after),
]
"""Applied by ``measures`` after thousands separators are removed."""
