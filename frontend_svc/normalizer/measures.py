"""Rules for money, percentages, units, fractions, maths, ranges and plain numbers."""

from __future__ import annotations

import re

from frontend_svc.normalizer import maths, money
from frontend_svc.normalizer.numbers import read_decimal, read_digits, read_int
from frontend_svc.normalizer.rule import NB, Rule
from frontend_svc.normalizer.units import PER, RATE_UNITS, UNIT_RE, UNITS

_NUM = r"(?P<n>\d+(?:\.\d+)?)"
# Measure words after which a lone 2 is read 两 (两个, 两年后, 两点).
_LIANG_BEFORE = (
    "个只条件本张次位名天年种台辆双把块岁小时分钟周家门层间片句口头匹座支架艘顶封"
    "颗粒根瓶杯碗斤公斤千克米公里倍点项批类份套段场节集部首万亿千百夜晚室厅"
)
_QUANTITY_AFTER = frozenset(_LIANG_BEFORE + "元人余多")
_PER_WORDS = (
    "平方米|平米|平方|立方米|立方|公斤|千克|公里|千米|小时|分钟|[斤两克吨米升人次天日月年周时"
    "分秒件个台套间晚夜张份盒瓶罐听箱袋包户亩株头只辆趟场页字股座位]"
)
"""What a price or rate is given per, after a slash (元/斤, 次/分)."""
_MAX_CARDINAL = 12
"""Bare integers up to this many digits are cardinals (千亿); longer ones are codes."""


_PER_MILLE = {"‰": "千分之", "‱": "万分之"}


def _percent(m: re.Match[str]) -> str:
    sign = {"-": "负", "负": "负", "±": "正负", "+": "正"}.get(m["sign"] or "", "")
    head = _PER_MILLE.get(m["pct"], "百分之")
    if head == "百分之" and m["n"] == "100":
        return sign + "百分之百"  # the idiom; 百分之一百 is rarely said
    return sign + head + read_decimal(m["n"], liang=False)


def _unit(m: re.Match[str]) -> str:
    unit = UNITS[m["u"]]
    sign = m["sign"] or ""
    if sign and unit in ("摄氏度", "华氏度", "度"):
        return "零下" + read_decimal(m["n"]) + unit  # house: -10°C -> 零下十摄氏度
    return ("负" if sign else "") + read_decimal(m["n"]) + unit


def _per_unit(m: re.Match[str]) -> str:
    """A unit over a unit that is not a time: 75μg/m³ -> 七十五微克每立方米."""
    return read_decimal(m["n"]) + UNITS[m["u"]] + "每" + UNITS[m["per"]]


def _degrees(m: re.Match[str]) -> str:
    seconds = read_decimal(m["s"]) + "秒" if m["s"] else ""
    return read_decimal(m["d"]) + "度" + read_decimal(m["m"]) + "分" + seconds


def _height(m: re.Match[str]) -> str:
    """1米75 -> 一米七五: centimetres after 米 are said digit by digit."""
    return ("两" if m["m"] == "2" else "一") + "米" + read_digits(m["cm"])


_RATE = (
    r"\s*(?P<u>km|m|公里|千米|米|kg|g|L|ml|mL|MB|GB|KB|kb|Mb)\s*/\s*"
    + r"(?P<per>h|s|min|小时|秒|分钟|天|年|月|人)(?![A-Za-z])"
)
"""A rate's unit and time (km/h, MB/s, 公里/小时), shared by the value and range rules."""


def _speed(m: re.Match[str]) -> str:
    """A rate reads its time first, as WeTextProcessing does: 30km/h -> 每小时三十公里,
    3m/s -> 每秒三米, 5MB/s -> 每秒五兆字节."""
    unit = UNITS.get(m["u"]) or RATE_UNITS.get(m["u"], m["u"])
    return "每" + PER.get(m["per"], m["per"]) + read_decimal(m["n"]) + unit


def _fraction(m: re.Match[str]) -> str:
    sign = {"+": "正", None: ""}.get(m["sign"], "负")
    return sign + read_int(m["den"], False) + "分之" + read_int(m["num"], False)


def _designation(m: re.Match[str]) -> str:
    def part(digits: str) -> str:
        return read_int(digits, False) if len(digits) <= 2 else read_digits(digits)

    first, second = m["d"], m["e"]
    if second is None:
        return part(first)
    if len(first) <= 3 and len(second) <= 3 and int(second) > int(first):
        return read_int(first, False) + "到" + read_int(second, False)
    return part(first) + part(second)


def _range(m: re.Match[str]) -> str:
    return m["n"] + m["mag"] + (m["pct"] or "") + (m["u"] or "") + "到"


def _long_int(m: re.Match[str]) -> str:
    """Integers are cardinals, except digit strings that cannot be quantities.

    Codes (``_is_code``) are read digit by digit, unless the number is an ordinal
    (第...) or a count (followed by a measure word, 元, 万 or 亿).
    """
    digits, text = m.group(), m.string
    before = text[m.start() - 1] if m.start() else ""
    after = text[m.end()] if m.end() < len(text) else ""
    quantity = before == "第" or (after and after in _QUANTITY_AFTER)
    if _is_code(digits) and not quantity:
        return read_digits(digits)
    return read_int(digits)


def _grouped(m: re.Match[str]) -> str:
    """Thousands separators go; a grouped integer is a quantity, never a code, so
    one that ``_long_int`` would read digit by digit is read here (10,010,010)."""
    digits = m.group().replace(",", "")
    after = m.string[m.end() : m.end() + 1]
    if after == "." or not _is_code(digits):
        return digits
    return read_int(digits)


def _is_code(digits: str) -> bool:
    """3+ digits with a leading 0 (0086, 007); 8 digits not ending in 00 (the
    length of a landline number: 62345678); more than 12 digits (IDs, cards),
    unless a round number of up to 16 (1000000000000 -> 一万亿)."""
    round_big = (
        len(digits) <= 16 and digits.rstrip("0") and len(digits.rstrip("0")) <= 4
    )
    return (
        (len(digits) > 2 and digits[0] == "0")
        or (len(digits) == 8 and not digits.endswith("00"))
        or (len(digits) > _MAX_CARDINAL and not round_big)
    )


def _zero_after_unit(m: re.Match[str]) -> str:
    """1亿2300 -> 1亿零2300, 1万200 -> 1万零200: the written part after 万/亿 is
    smaller than the next place, so a 零 is spoken. Two digits or fewer are the
    colloquial short form (2万5 = 两万五千) and are left alone."""
    rest = int(m["y"])
    limit = 1000 if m["big"] == "万" or m["wan"] else 10**7
    if len(m["y"]) < 3 or rest >= limit or m["y"][0] == "0":
        return m.group()
    return m["big"] + "零" + m["y"] + (m["wan"] or "")


def _pct_range(m: re.Match[str]) -> str:
    head = "千分之" if m["pct"] == "‰" else "百分之"
    return (
        head + read_decimal(m["n"], False) + "到" + head + read_decimal(m["n2"], False)
    )


def _speed_range(m: re.Match[str]) -> str:
    """3~5m/s -> 每秒三到五米: the time first, once, as for a single rate."""
    unit = UNITS.get(m["u"]) or RATE_UNITS.get(m["u"], m["u"])
    span = read_decimal(m["n"]) + "到" + read_decimal(m["n2"])
    return "每" + PER.get(m["per"], m["per"]) + span + unit


RULES: list[Rule] = [
    (re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])"), _grouped),  # 1,000,000
    # Money amounts drop trailing decimal zeros: 14.60元 -> 十四点六元.
    (
        re.compile(r"(?P<k>\d+\.\d*?)0+(?=\s*(?:" + money.MONEY_WORDS + "))"),
        lambda m: m["k"].rstrip("."),
    ),
    # Version numbers: 3.2.1 -> 三点二点一 (IPs with four parts are handled earlier).
    (
        re.compile(NB + r"\d+(?:\.\d+){2,}(?![\d.])"),
        lambda m: "点".join(read_int(p, False) for p in m.group().split(".")),
    ),
    *money.RULES,
    *maths.PRODUCTS,
    # Exponents written as digits after a length unit: 5m2 -> 5m², 3cm3 -> 3cm³.
    (
        re.compile(r"(?<=\d)(?P<u>\s*(?:km|dm|cm|mm|mi|m))(?P<e>[23])(?![\dA-Za-z])"),
        lambda m: m["u"] + ("²" if m["e"] == "2" else "³"),
    ),
    *maths.SCIENTIFIC,
    # Video resolutions (1080P, 720p): digit by digit.
    (
        re.compile(NB + r"(?P<d>\d{3,4})(?=[Pp](?![A-Za-z]))"),
        lambda m: read_digits(m["d"]),
    ),
    # English ordinals written with digits (1st, 22nd): 第 + cardinal.
    (
        re.compile(NB + r"(?P<d>\d+)(?:st|nd|rd|th)(?![A-Za-z])", re.I),
        lambda m: "第" + read_int(m["d"], False),
    ),
    # Capitals written with dots (M.V.P, U.S.A.): one acronym.
    (
        re.compile(r"(?<![A-Za-z.])(?:[A-Z]\.){1,4}[A-Z]\.?(?![A-Za-z])"),
        lambda m: m.group().replace(".", ""),
    ),
    # B2B, O2O, P2P (also typed o 2 o): a lone 2 between two business-model
    # letters is "to" (not in formulas: H2O).
    (
        re.compile(
            r"(?<![A-Za-z0-9])(?P<a>[BCOPMFGD]) ?2 ?(?P<b>[BCOPMFGD])(?![A-Za-z0-9])",
            re.I,
        ),
        lambda m: f"{m['a'].upper()} to {m['b'].upper()}",
    ),
    # Compound durations (1h30min, 2min30s): each part with its unit.
    (
        re.compile(
            NB
            + r"(?P<a>\d+)\s*(?P<u1>h|min)\s*(?P<b>\d+)\s*(?P<u2>min|m|s)(?![A-Za-z])"
        ),
        lambda m: (
            read_int(m["a"])
            + PER[m["u1"]]
            + read_int(m["b"])
            + PER.get(m["u2"], "分钟")
        ),
    ),
    # A range with the unit on both ends (3kg-5kg): the dash is no designation's
    # (negative temperatures are left to their own rules).
    (
        re.compile(
            r"(?<!-)" + NB + _NUM + r"\s*(?P<u>" + UNIT_RE + r")\s*[-~～—–至]\s*"
            r"(?P<n2>\d+(?:\.\d+)?)\s*(?P=u)(?![A-Za-z²³])"
        ),
        lambda m: (
            read_decimal(m["n"])
            + UNITS[m["u"]]
            + "到"
            + read_decimal(m["n2"])
            + UNITS[m["u"]]
        ),
    ),
    *maths.ALGEBRA,
    # A model code continued after a dash (i9-13900K, DDR5-6000): the dash is
    # silent, not 负, and the digits are read as one designation.
    (
        re.compile(r"(?:(?<=[A-Za-z]\d)|(?<=[A-Za-z]\d\d))-(?=\d{3,}|\d+[A-Za-z])"),
        lambda m: "",
    ),
    # Designations: digits written after Latin letters (COVID-19, F-16, iPhone15,
    # MH370, SARS-CoV-2): the hyphen is silent (not 负, not 到); up to 2 digits are
    # a cardinal (十九), longer runs are read digit by digit (三七零). A second
    # dashed number is a range when it is larger (A4-5页, P3-4), else more of the
    # designation (GB2312-80).
    (
        re.compile(r"(?<=[A-Za-z])-?(?P<d>\d+)(?:-(?P<e>\d+))?(?![\d.,]|[:：/]\d|-\d)"),
        _designation,
    ),
    # Temperature ranges with negative ends: -10~-5℃ -> 零下十到零下五摄氏度.
    (
        re.compile(
            r"(?<![A-Za-z0-9_.])-(?=\d+(?:\.\d+)?\s*(?:°C|℃|°F|℉|°|度)?\s*[~～至到\-—]"
            + r"\s*-?\d+(?:\.\d+)?\s*(?:°C|℃|°F|℉|°|度))"
        ),
        lambda m: "零下",
    ),
    (
        re.compile(
            r"(?<=[\d℃°CF度])\s*[~～至到\-—]\s*-(?=\d+(?:\.\d+)?\s*(?:°C|℃|°F|℉|°|度))"
        ),
        lambda m: "到零下",
    ),
    *maths.POWERS,
    # 1亿2300人 -> 一亿零两千三百人 (before the integers are read).
    (
        re.compile(r"(?<=\d)(?P<big>[万亿])(?P<y>\d+)(?![\d.])(?P<wan>万)?"),
        _zero_after_unit,
    ),
    # Percent and speed ranges read the unit on both ends or before them:
    # 30~41% -> 百分之三十到百分之四十一, 11~100km/h -> 每小时十一到一百公里.
    (
        re.compile(
            NB + _NUM + r"\s*[~～\-–—至到]\s*(?P<n2>\d+(?:\.\d+)?)\s*(?P<pct>[%‰])"
        ),
        _pct_range,
    ),
    (
        re.compile(NB + _NUM + r"\s*[~～\-–—至到]\s*(?P<n2>\d+(?:\.\d+)?)" + _RATE),
        _speed_range,
    ),
    (
        re.compile(
            NB
            + _NUM
            + r"(?P<mag>[万亿]?)(?P<pct>[%‰]?)(?P<u>(?:"
            + UNIT_RE
            + r")?)\s*(?:——|[~～\-–—至])\s*(?=\d)(?!\d+(?:\.\d+)?\s*[=＝])"
        ),
        _range,
    ),
    (re.compile(r"(?P<sign>[-+±负])?" + NB + _NUM + r"\s*(?P<pct>[%‰‱])"), _percent),
    (
        re.compile(NB + _NUM + _RATE),
        _speed,
    ),
    (
        re.compile(
            NB
            + _NUM
            + r"\s*(?P<u>"
            + UNIT_RE
            + r")\s*/\s*(?P<per>"
            + UNIT_RE
            + r")(?![A-Za-z²³])"
        ),
        _per_unit,
    ),
    # Angles and coordinates: 116°23′ -> 一百一十六度二十三分, and lap times 3'25".
    (
        re.compile(
            NB + r"(?P<d>\d+(?:\.\d+)?)°\s*(?P<m>\d+(?:\.\d+)?)[′']"
            r"(?:\s*(?P<s>\d+(?:\.\d+)?)[″\"])?"
        ),
        _degrees,
    ),
    (
        re.compile(NB + r"(?P<m>\d+)[′'](?P<s>\d+(?:\.\d+)?)[″\"]"),
        lambda m: read_int(m["m"], False) + "分" + read_decimal(m["s"]) + "秒",
    ),
    # Blood pressure (120/80mmHg): the slash is 比, no fraction.
    (
        re.compile(NB + r"(?P<a>\d{2,3})\s*/\s*(?P<b>\d{2,3})\s*mmHg"),
        lambda m: read_int(m["a"], False) + "比" + read_int(m["b"], False) + "毫米汞柱",
    ),
    # A price per unit (5元/kg, 2万元/m²): the slash is 每.
    (
        re.compile(r"(?<=[元块])\s*/\s*(?P<u>" + UNIT_RE + r")(?![A-Za-z²³])"),
        lambda m: "每" + UNITS[m["u"]],
    ),
    (
        re.compile(NB + r"(?P<m>[12])米(?P<cm>\d{1,2})(?![\d.%])(?!\s*[厘毫公a-zA-Z])"),
        _height,
    ),
    (
        re.compile(
            r"(?P<sign>(?<![A-Za-z0-9_.])-)?"
            + NB
            + _NUM
            + r"\s*(?P<u>"
            + UNIT_RE
            + r")(?![A-Za-z²³])"
        ),
        _unit,
    ),
    # A mixed number (1 1/2杯) was written with a space: 一又二分之一.
    (
        re.compile(NB + r"(?P<w>\d{1,2}) (?=\d+\s*/\s*\d+(?![\d./]))"),
        lambda m: m["w"] + "又",
    ),
    (
        re.compile(
            r"(?P<sign>(?<![A-Za-z0-9_.])[-+]|负)?"
            + NB
            + r"(?<![A-Za-z])(?P<num>\d+)\s*/\s*(?P<den>\d+)(?![\d.])"
        ),
        _fraction,
    ),
    *maths.OPERATORS,
    # A plus after a number, before a counted word or the end of a clause
    # (1000+人, 100万+): 多. Elsewhere it is a plus (房费232+早餐28).
    (
        re.compile(
            r"(?<=[\d万亿千百])\+(?=\s*(?:[人个位名件次家元条款台种项]|[，。、！？,.!?；;）)]|$))"
        ),
        lambda m: "多",
    ),
    (re.compile(r"(?<=[\d万亿])\s*\+\s*(?=[\u4e00-\u9fff])"), lambda m: "加"),
    # A written plus sign that is no operator (text start, after a space or a
    # punctuation mark): +5 -> 正五. After Chinese (价格+10元) it stays unread.
    (re.compile(r"(?:^|(?<=[\s(（,，:：;；]))\+(?=\d)"), lambda m: "正"),
    (re.compile(r"(?<=[\dA-Za-z])\s*-\s*(?=(?:\d+|[A-Za-z])\s*等于)"), lambda m: "减"),
    (
        re.compile(r"(?<!第)" + NB + r"2(?=[" + _LIANG_BEFORE + r"])(?![\d]|分之)"),
        lambda m: "两",
    ),
    # A dash between two dates or times (5月-6月, 1990年-2000年) is a range.
    (
        re.compile(
            r"(?<=[年月日号点分秒])\s*[-~～—]\s*(?=[\d零一二三四五六七八九十两])"
        ),
        lambda m: "到",
    ),
    (re.compile(r"(?<![A-Za-z0-9_.])-(?=\d+(?:\.\d+)?度)"), lambda m: "零下"),
    (re.compile(r"(?<![A-Za-z0-9_.])-(?=\d)"), lambda m: "负"),
    (re.compile(r"(?<![A-Za-z0-9_])\.(?=\d)"), lambda m: "0."),
    (re.compile(NB + r"\d+\.\d+"), lambda m: read_decimal(m.group())),
    (re.compile(r"\d+"), _long_int),
    # A slash before a unit of counting or time is 每 (元/斤, 次/分, 升/百公里); between
    # other words it is "or" and stays unread (男/女, 北京/上海).
    (
        re.compile(
            r"(?<=[\u4e00-\u9fff])/(?=[零一二三四五六七八九十百千万两]*(?:"
            + _PER_WORDS
            + "))"
        ),
        lambda m: "每",
    ),
    (re.compile(r"[~～](?=[\u4e00-\u9fff])"), lambda m: "到"),
]
"""Applied in order after the date/time rules."""
