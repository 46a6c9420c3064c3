"""Rules for written dates, times, scores, telephone numbers, IPs, URLs and e-mail."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from frontend_svc.normalizer.numbers import read_digits, read_int

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]

_NB = r"(?<![\d.])"  # not preceded by a digit or decimal point
_NA = r"(?![\d])"  # not followed by a digit


def _ymd(year: str, month: str, day: str | None) -> str | None:
    if not 1 <= int(month) <= 12 or (day is not None and not 1 <= int(day) <= 31):
        return None
    text = read_digits(year) + "年" + read_int(month, False) + "月"
    return text + (read_int(day, False) + "日" if day else "")


def _date_ymd(m: re.Match[str]) -> str:
    month = m["m"] or m.groupdict().get("m2") or "0"
    return _ymd(m["y"], month, m["d"] or None) or m.group()


def _date_mdy(m: re.Match[str]) -> str:
    month, day = m["m"], m["d"] or None
    if day is not None and int(month) > 12:  # day-first form: 31/12/2020
        month, day = day, month
    return _ymd(m["y"], month, day) or m.group()


def _year(m: re.Match[str]) -> str:
    return m["pre"] + read_digits(m["y"]) + "年"


def _era(m: re.Match[str]) -> str:
    era = "公元前" if m["era"].lower().startswith("b") else "公元"
    return era + read_digits(m["y"]) + "年" + (m["rest"] or "")


def _clock(m: re.Match[str]) -> str:
    hour, minute, sec = int(m["h"]), m["min"], m["s"]
    if hour > 24 or int(minute) > 59 or (sec is not None and int(sec) > 59):
        return m.group()
    ampm = (m["ap"] or "").lower()
    prefix = m["pre"] or ("上午" if ampm.startswith("a") else "下午" if ampm else "")
    text = prefix + ("两" if hour == 2 else read_int(str(hour), False)) + "点"
    if minute != "00" or sec is not None:
        text += _sexagesimal(minute) + "分"
    if sec is not None:
        text += _sexagesimal(sec) + "秒"
    return text


def _sexagesimal(two: str) -> str:
    """Minutes/seconds: 05 -> 零五, 00 -> 零, 30 -> 三十."""
    if two.startswith("0"):
        return "零" + (read_digits(two[1]) if two != "00" else "")
    return read_int(two, False)


def _load_teams() -> tuple[frozenset[str], int]:
    path = Path(__file__).with_name("sport_teams.txt")
    names = {
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    return frozenset(names), max(map(len, names))


_TEAMS, _TEAM_MAX = _load_teams()


def _team_score(m: re.Match[str]) -> str:
    """``中国1-2``, ``拉齐奥 2/2``: a pair right after a team name is a score."""
    start = m.start()
    text = m.string
    for size in range(2, min(_TEAM_MAX, start) + 1):
        if text[start - size : start] in _TEAMS:
            return read_int(m["a"], False) + "比" + read_int(m["b"], False)
    return m.group()


def _standalone_year(m: re.Match[str]) -> str:
    return read_digits(m["y"]) + "年"


def _score(m: re.Match[str]) -> str:
    return m["ctx"] + read_int(m["a"], False) + "比" + read_int(m["b"], False)


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


_PHONE_WORDS = ("电话", "手机", "拨打", "致电", "热线", "号码", "呼叫", "来电", "短信")
_ID_WORDS = ("尾号", "编号", "卡号", "账号", "帐号", "单号", "邮编", "工号", "学号",
             "代码", "密码", "验证码", "房间", "车次", "航班", "型号", "证号")  # fmt: skip
# A score needs a sports word just before it (up to 4 other characters between).
_SCORE_CTX = (
    r"(?P<ctx>(?:比分|比赛|战胜|击败|力克|爆冷|负于|胜|负|平|以|队)[^\d，。,]{0,4}?)"
)

RULES: list[Rule] = [
    (re.compile(r"(?:https?://|www\.)[A-Za-z0-9./:_\-?=&#%~+]+", re.I), _spell_address),
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), _spell_address),
    (re.compile(_NB + r"\d{1,3}(?:\.\d{1,3}){3}" + _NA), _ip),
    (
        re.compile(
            _NB
            + r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
            + _NA
        ),
        _date_ymd,
    ),
    (
        re.compile(
            _NB
            + r"(?P<m>\d{1,2})(?P<sep>[-/.])(?P<d>\d{1,2})(?P=sep)(?P<y>\d{4})"
            + _NA
        ),
        _date_mdy,
    ),
    (
        re.compile(
            _NB
            + r"(?P<y>[12]\d{3})(?:/(?P<m>\d{1,2})|\.(?P<m2>\d{2}))(?P<d>)"
            + r"(?![\d.万亿千百元%])"
        ),
        _date_ymd,
    ),
    (re.compile(_NB + r"(?P<m>\d{1,2})/(?P<y>[12]\d{3})(?P<d>)" + _NA), _date_mdy),
    # Two-digit years (NeMo): 12/2/2, 21-05-03 -> 一二年二月二日.
    (
        re.compile(
            _NB
            + r"(?P<y>\d{2})(?P<sep>[-/])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
            + r"(?![\d./:-])"
        ),
        _date_ymd,
    ),
    # A month with its leading zero and a day (WeTextProcessing): 05/20 -> 五月二十日.
    (
        re.compile(
            _NB + r"(?P<m>0[1-9])(?P<sep>[-/])(?P<d>[0-3]?\d)(?P<y>)(?![\d./:-])"
        ),
        lambda m: (
            read_int(m["m"], False) + "月" + read_int(m["d"], False) + "日"
            if 1 <= int(m["d"]) <= 31
            else m.group()
        ),
    ),
    (
        re.compile(
            _NB
            + r"(?P<y>\d{1,4})\s*(?P<era>a\.?d\.?|b\.?c\.?)(?P<rest>(?:\d{1,2}月)?)",
            re.I,
        ),
        _era,
    ),
    # Year ranges (1990-2000年, 2023-2024赛季): both years digit by digit.
    (
        re.compile(
            _NB
            + r"(?P<a>[12]\d{3})\s*[-~～至到]\s*(?P<b>[12]\d{3})"
            + r"(?=年|赛季|财年|学年|年度|财政年度)"
        ),
        lambda m: read_digits(m["a"]) + "到" + read_digits(m["b"]),
    ),
    # An era written after a date (1823年3月bc): 公元前一八二三年三月.
    (
        re.compile(
            _NB
            + r"(?P<y>\d{1,4})年(?P<rest>(?:\d{1,2}月)?(?:\d{1,2}[日号])?)\s*"
            + r"(?P<era>a\.?d\.?|b\.?c\.?)(?![A-Za-z])",
            re.I,
        ),
        _era,
    ),
    # A year after an era word (公元前221年, 西元1995年): digit by digit.
    (
        re.compile(r"(?P<pre>(?:公元|西元|纪元)前?)(?P<y>\d{2,4})年"),
        _year,
    ),
    (re.compile(r"(?P<pre>)" + _NB + r"(?P<y>\d{4})年"), _year),
    # A two-digit year standing alone as a clause (98年, 50年我...): digit by digit;
    # a count (工作了50年, 50年来, 20年前) keeps its cardinal reading.
    (
        re.compile(
            r"(?:^|(?<=[\s，。！？：；、!?;（(“\"]))(?P<y>\d{2})年"
            + r"(?![前后来间内多余左右以之里半零期过了的时历中])"
        ),
        _standalone_year,
    ),
    (
        re.compile(
            r"(?P<pre>)" + _NB + r"(?P<y>0\d|\d{2}(?=年(?:代|初|末|底|\d{1,2}月)))年"
        ),
        _year,
    ),
    (re.compile(_NB + r"(?P<y>\d0)(?=后)"), lambda m: read_digits(m["y"])),
    (
        re.compile(
            r"(?<=[\u4e00-\u9fffA-Za-z])\s?"
            + r"(?P<a>\d{1,3})\s*[-/:：]\s*(?P<b>\d{1,3})"
            + r"(?![\d.:：/%‰年月日号点时分秒万亿千百元个天人名位岁-]|\s*[-~])"
        ),
        _team_score,
    ),
    (
        re.compile(
            _SCORE_CTX
            + _NB
            + r"(?P<a>\d{1,3})\s*[:：\-]\s*(?P<b>\d{1,3})"
            + _NA
            + r"(?![:：]\d)"  # 12:00:30 is a clock time
        ),
        _score,
    ),
    (
        re.compile(
            r"(?P<pre>上午|下午|早上|晚上|凌晨|中午)?"
            + _NB
            + r"(?P<h>\d{1,2})[:：](?P<min>\d{2})(?:[:：](?P<s>\d{2}))?"
            + _NA
            + r"(?:\s*(?P<ap>[AaPp]\.?[Mm]\.?)(?![A-Za-z]))?"
        ),
        _clock,
    ),
    (
        re.compile(
            _NB
            + r"(?P<a>\d{1,3})\s*[:：]\s*(?P<b>\d{1,3})"
            + _NA
            + r"(?![:：]\d)(?P<ctx>)"
        ),
        lambda m: read_int(m["a"], False) + "比" + read_int(m["b"], False),
    ),
    (re.compile(_NB + r"(?:\+?86[- ]?)?1[3-9]\d{9}" + _NA), _phone),
    # Grouped telephone numbers: 400-800-8888, 138-1234-5678, 138 1234 5678,
    # +86 10-1234-5678 (after the dates, so 2008-08-08 stays a date; a lone pair
    # such as 100-200 stays a range).
    (
        re.compile(
            _NB
            + r"(?:\+\d{1,3}[- ]?)?(?:\d{2,4}-\d{3,4}-\d{3,4}|1[3-9]\d[ -]\d{4}[ -]\d{4}"
            + r"|[48]00-?\d{3}-?\d{4})(?![\d-])"
        ),
        _phone,
    ),
    (re.compile(_NB + r"(?:\(0\d{2,3}\)|0\d{2,3})-?\d{7,8}" + _NA), _phone),
    (
        re.compile(
            r"(?P<kw>"
            + "|".join(_PHONE_WORDS + _ID_WORDS)
            + r")(?P<mid>[^\d\n]{0,4}?)(?P<num>\d{3,})"
        ),
        _keyword_digits,
    ),
]
"""Applied in order; each returns spoken text for its match."""
