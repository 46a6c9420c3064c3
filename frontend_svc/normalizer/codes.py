"""Rules for codes read digit by digit: URLs, e-mail, IPs, telephone and service
numbers, licence plates, and digits after a keyword (卡号, 验证码)."""

from __future__ import annotations

import re

from frontend_svc.normalizer.numbers import digits_of, read_digits
from frontend_svc.normalizer.rule import NA, NB, Rule


def _phone(m: re.Match[str]) -> str:
    return read_digits(m.group(), yao=True)


def _keyword_digits(m: re.Match[str]) -> str:
    yao = m["kw"] in _PHONE_WORDS
    return m["kw"] + m["mid"] + read_digits(m["num"], yao=yao)


def _ip(m: re.Match[str]) -> str:
    return "点".join(read_digits(p) for p in m.group().split("."))


_URL_WORDS = {".": "点", "/": "斜杠", ":": "冒号", "-": "杠", "_": "下划线",
              "@": "艾特", "?": "问号", "=": "等于", "&": "和", "#": "井号",
              "%": "百分号", "~": "波浪号", "+": "加"}  # fmt: skip


def _spell_address(m: re.Match[str]) -> str:
    """URLs/e-mail: letters stay letters (spelled later), digits one by one."""
    out = []
    for ch in re.sub(r"^https?://", "", m.group(), flags=re.I):
        out.append(_URL_WORDS.get(ch) or (read_digits(ch) if ch.isdigit() else ch))
    return " ".join("".join(out).split())


_COUNTED = "个人元块次件条年月日天号岁米克名位家台辆万亿千百分秒度倍"
"""A number followed by one of these counts something: never a service number."""
_PHONE_WORDS = ("电话", "手机", "拨打", "致电", "热线", "号码", "呼叫", "来电", "短信")
_ID_WORDS = ("尾号", "编号", "卡号", "账号", "帐号", "单号", "邮编", "工号", "学号",
             "代码", "密码", "验证码", "房间", "车次", "航班", "型号", "证号", "分机",
             "后四位", "后4位", "后六位", "后6位", "末四位", "末位")  # fmt: skip
# Service numbers said digit by digit with 幺 (10086, 12306): the carriers',
# railway and government hotlines, and any 5-digit 95xxx company hotline. 12345
# and 10000 are left out (as often an example or a count as a hotline).
_SERVICE = (
    "10010|10015|10050|10060|10080|10086|10099|12110|12306|12315|12320|12328"
    "|12333|12348|12366|12369|12395|95\\d{3}"
)
# Emergency numbers only where they are dialled or named (打120, 110报警, 911是报警电话): alone
# they are as likely a count (考了120).
_EMERGENCY = (
    r"(?:(?<=打)(?:110|112|114|119|120|122|911|999)"
    r"|(?:110|112|119|120|122|911|999)"
    r"(?=(?:是|为|就是)?(?:报警|急救|火警|求救|求助|救护|指挥|中心|台|紧急)))"
)
_PLATE = (
    r"(?P<p>[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])"
    r"(?P<rest>[A-Za-z][·.\s]?(?=[A-Za-z]*\d)[A-Za-z0-9]{5,6})(?![A-Za-z0-9])"
)


ADDRESS_RULES: list[Rule] = [
    (re.compile(r"(?:https?://|www\.)[A-Za-z0-9./:_\-?=&#%~+]+", re.I), _spell_address),
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), _spell_address),
    (re.compile(NB + r"\d{1,3}(?:\.\d{1,3}){3}" + NA), _ip),
]
"""Before the date rules (a URL's digits are no date)."""

PHONE_RULES: list[Rule] = [
    (re.compile(NB + r"(?:\+?86[- ]?)?1[3-9]\d{9}" + NA), _phone),
    (
        re.compile(
            rf"(?<![第·]){NB}(?:{_SERVICE}|{_EMERGENCY})"
            rf"(?![\d.%·]|\s*[{_COUNTED}])"
        ),
        _phone,
    ),
    # Flat and room numbers (3单元401, A座1001, 1205室): digit by digit; not after
    # 座 as a measure word (一座6000多平方米的晒谷场).
    (
        re.compile(
            r"(?:(?<=单元)|(?<=[A-Za-z\d]栋)|(?<=[A-Za-z]座))\d{3,4}"
            r"(?![\d.多余万千百平米人元个])|" + NB + r"\d{3,4}(?=室|房(?!间))"
        ),
        digits_of,
    ),
    # Licence plates (京A07ZX3F, 鄂a7l62u): every digit on its own, letters kept.
    (re.compile(_PLATE), lambda m: m["p"] + re.sub(r"\d", digits_of, m["rest"])),
    # Grouped telephone numbers: 400-800-8888, 400 800 8888, 138-1234-5678,
    # 138 1234 5678, 86-10-12345678 (country, area, number), +86 10-1234-5678
    # (after the dates, so 2008-08-08 stays a date; a lone pair such as 100-200
    # stays a range).
    (
        re.compile(
            NB
            + r"(?:\+\d{1,3}[- ]?)?(?:\d{2,4}-\d{3,4}-\d{3,4}|1[3-9]\d[ -]\d{4}[ -]\d{4}"
            + r"|[48]00[- ]?\d{3}[- ]?\d{4}|\d{1,3}-\d{2,3}-\d{7,8})(?![\d-])"
        ),
        _phone,
    ),
    (re.compile(NB + r"(?:\(0\d{2,3}\)|0\d{2,3})-?\d{7,8}" + NA), _phone),
    # Landlines grouped by spaces (010 1234 5678, 0755-8888 8888) and international
    # numbers grouped (+852 1234 5678): every digit, the plus as 加.
    (
        re.compile(NB + r"0\d{2,3}[ -]\d{3,4} \d{4}" + NA),
        _phone,
    ),
    (
        re.compile(r"(?<![\w+])\+(?P<cc>\d{1,3})[ -]\d{3,4}[ -]\d{4}" + NA),
        lambda m: "加" + read_digits(m.group()[1:], yao=True),
    ),
    # An extension after a number read out (0755-88888888转123): digits too.
    (
        re.compile(r"(?<=[零幺一二三四五六七八九])转(?P<ext>\d{1,5})" + NA),
        lambda m: "转" + read_digits(m["ext"], yao=True),
    ),
    (
        re.compile(
            r"(?P<kw>"
            + "|".join(_PHONE_WORDS + _ID_WORDS)
            + r")(?P<mid>[^\d\n]{0,4}?)(?P<num>\d{3,})"
        ),
        _keyword_digits,
    ),
]
"""After the date rules (2008-08-08 stays a date), before the measures."""
