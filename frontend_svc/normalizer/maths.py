"""Rules for maths: operators, equations, powers, roots and scientific notation.

Spliced into ``measures.RULES`` at fixed places (the order of the rules matters:
a sign is read as an operator only where no unit, range or designation rule has
claimed it first).
"""

from __future__ import annotations

import re

from frontend_svc.normalizer.numbers import read_decimal
from frontend_svc.normalizer.rule import Rule

__all__ = ["ALGEBRA", "OPERATORS", "POWERS", "PRODUCTS", "SCIENTIFIC"]

_MATH = {"=": "等于", "+": "加", "×": "乘", "*": "乘", "÷": "除以", "<": "小于",
         ">": "大于", "≤": "小于等于", "≥": "大于等于", "<=": "小于等于",
         ">=": "大于等于", "≠": "不等于", "!=": "不等于", "≈": "约等于"}  # fmt: skip
_SPOKEN_DIGITS = "零一二三四五六七八九十"
"""Numbers already read (fractions: 1/2+1/3=5/6): an operator between them is read too."""
_MATH_RE = "|".join(re.escape(k) for k in sorted(_MATH, key=len, reverse=True))


_OPERAND = r"(?:\d+(?:\.\d+)?[A-Za-z]?|[A-Za-z])[²³]?"
_POWERS = {"²": "的平方", "³": "的立方"}
_EQUATION = (
    r"(?<![A-Za-z0-9_.])"
    + _OPERAND
    + r"(?:\s*(?:[+\-×*÷=<>≤≥≠]|<=|>=|!=)\s*"
    + _OPERAND
    + r")*\s*(?:=|<=|>=|[<>≤≥≠])\s*"
    + _OPERAND
    + r"(?:\s*(?:[+\-×*÷=<>≤≥≠]|<=|>=|!=)\s*"
    + _OPERAND
    + r")*(?![A-Za-z0-9_.])"
)
_EQ_OPS = {**_MATH, "-": "减"}


def _equation(m: re.Match[str]) -> str:
    """Only an equation that has a letter operand: ops between numbers come later."""
    expr = m.group()
    if not re.search(r"[A-Za-z]", expr):
        return expr
    parts = re.split(r"(<=|>=|!=|[+\-×*÷=<>≤≥≠])", expr)
    out = []
    for part in parts:
        part = part.strip()
        if part in _EQ_OPS:
            out.append(_EQ_OPS[part])
        else:
            part = re.sub(r"\d+(?:\.\d+)?", lambda d: read_decimal(d.group()), part)
            out.append(re.sub("[²³]", lambda p: _POWERS[p.group()], part))
    return "".join(out)


def _math(m: re.Match[str]) -> str:
    return _MATH[m["op"]]


PRODUCTS: list[Rule] = [
    # × and ÷ between numbers, also with units (5cm×10cm, 1920×1080); not a
    # masked name (王×).
    (re.compile(r"(?<=[\dA-Za-z²³])\s*(?P<op>[×÷])\s*(?=\d)"), _math),
    # A letter x between two numbers is a times sign too (1920x1080), not hex (0x1F).
    (
        re.compile(
            r"(?<![\dA-Za-z.])(?!0[xX])(?P<a>\d+)\s*[xX]\s*(?=\d+(?![\dA-Za-z]))"
        ),
        lambda m: m["a"] + "乘",
    ),
    # Equations with single letters (x+y=5, 2x-1=3, a>b): the operators are read.
    (re.compile(_EQUATION), _equation),
]
"""Right after money: times signs between numbers and equations with letters."""

SCIENTIFIC: list[Rule] = [
    # Scientific notation: 1e-5 -> 一乘十的负五次方, 6.02E23.
    (
        re.compile(
            r"(?<![A-Za-z0-9_.])(?P<m>\d+(?:\.\d+)?)[eE](?P<e>[-+]?\d{1,3})(?![\dA-Za-z])"
        ),
        lambda m: read_decimal(m["m"]) + "乘十的" + read_decimal(m["e"]) + "次方",
    ),
]
"""After the area/volume exponents of units (5m2)."""

ALGEBRA: list[Rule] = [
    # A single lower-case letter plus or minus a number is algebra (n+1, x-1), not a
    # designation (F-16).
    (
        re.compile(r"(?<![A-Za-z][a-z])(?<=[a-z])\s*(?P<op>[+-])\s*(?=\d)"),
        lambda m: "加" if m["op"] == "+" else "减",
    ),
]
"""Before the designations (F-16), which would take the digits."""

POWERS: list[Rule] = [
    # Powers: 2^3 -> 二的三次方, 10^-6 -> 十的负六次方.
    (
        re.compile(r"(?P<b>\d+(?:\.\d+)?|[A-Za-z])\s*\^\s*(?P<e>-?\d+)(?![\d.])"),
        lambda m: (
            (read_decimal(m["b"]) if m["b"][0].isdigit() else m["b"])
            + "的"
            + read_decimal(m["e"])
            + "次方"
        ),
    ),
]
"""Before the integers are read."""

OPERATORS: list[Rule] = [
    (
        re.compile(
            r"(?<=[\d\s"
            + _SPOKEN_DIGITS
            + r"])(?P<op>"
            + _MATH_RE
            + r")(?=\s*[-\d"
            + _SPOKEN_DIGITS
            + r"])"
        ),
        _math,
    ),
    (re.compile(r"(?P<op>[≤≥≠≈])(?=\s*[-\d])"), _math),
    # Operators next to brackets, bars, powers and single-letter variables:
    # 2(3+4)=14, (1+2)×3, |x|=1, 2^10=1024.
    (
        re.compile(
            r"(?:(?<=[)）|²³])|(?<=次方))\s*(?P<op>[=×÷+≠≈≥≤])\s*"
            r"(?=[-\d(（|√A-Za-z" + _SPOKEN_DIGITS + r"])"
        ),
        _math,
    ),
    (re.compile(r"(?<=[\dA-Za-z)）])\s*(?P<op>[=×÷])\s*(?=[(（|√])"), _math),
    (re.compile(r"±(?=\d)"), lambda m: "正负"),
    # Powers and roots after the units (5m² is an area): 3² -> 三的平方, √2 -> 根号二.
    (re.compile(r"(?<=\d)[²³]"), lambda m: _POWERS[m.group()]),
    (re.compile(r"√(?=\s*\d)"), lambda m: "根号"),
]
"""After the fractions (1/2+1/3=5/6), before a plus is taken for 多 or 正."""
