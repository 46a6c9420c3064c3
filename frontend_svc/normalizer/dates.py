"""Rules for written dates, times and scores."""

from __future__ import annotations

import re

from frontend_svc.normalizer import scores
from frontend_svc.normalizer.numbers import (
    digits_of,
    read_decimal,
    read_digits,
    read_fraction,
    read_int,
)
from frontend_svc.normalizer.rule import NA, NB, Rule


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


def _year_or_span(m: re.Match[str]) -> str:
    year, after = int(m["y"]), m["after"] or ""
    dated = m.string[m.start() - 1 : m.start()] in ("在", "于", "到", "至", "从")
    if year >= 2100 or (after and year % 1000 == 0 and not dated):
        return read_int(m["y"]) + "年" + after
    return _year(m) + after


def _era(m: re.Match[str]) -> str:
    era = "公元前" if m["era"].lower().startswith("b") else "公元"
    return era + read_digits(m["y"]) + "年" + (m["rest"] or "")


def _hours(hour: int) -> str:
    """A count of hours as said: 两, 十一 (never 二)."""
    return "两" if hour == 2 else read_int(str(hour), False)


def _spoken_hour(hour: int) -> str:
    """An hour as said on the clock: 两点, 十一点."""
    return _hours(hour) + "点"


def _clock(m: re.Match[str]) -> str:
    hour, minute, sec = int(m["h"]), m["min"], m["s"]
    if hour > 24 or int(minute) > 59 or (sec is not None and int(sec) > 59):
        return m.group()
    ampm = (m["ap"] or "").lower()
    prefix = m["pre"] or ("上午" if ampm.startswith("a") else "下午" if ampm else "")
    if sec is not None and not prefix and _is_duration(m):
        return _duration(hour, minute, sec, m["frac"])
    text = prefix + _spoken_hour(hour)
    if minute != "00" or sec is not None:
        text += _sexagesimal(minute) + "分"
    if sec is not None:
        text += _sexagesimal(sec) + read_fraction(m["frac"]) + "秒"
    return text


_DURATION_BEFORE = re.compile(
    r"(?:用时|耗时|成绩|时长|历时|跑出|游出|完赛|计时|净时)\S{0,3}$"
)


def _is_duration(m: re.Match[str]) -> bool:
    """H:MM:SS is an elapsed time, not a clock reading, after 用时/成绩...
    or with decimal seconds (2:03:45.67): clocks do not show tenths."""
    before = m.string[max(0, m.start() - 6) : m.start()]
    return bool(m["frac"]) or bool(_DURATION_BEFORE.search(before))


def _lap_time(m: re.Match[str]) -> str:
    return _duration(0, m["min"], m["s"], m["frac"])


def _duration(hour: int, minute: str, sec: str, frac: str | None) -> str:
    """An elapsed time, zero fields left out: 两小时零三分, 一小时零五秒, 十二点五秒."""
    text = _hours(hour) + "小时" if hour else ""
    if int(minute):
        text += (_sexagesimal(minute) if text else read_int(minute, False)) + "分"
    if int(sec) or frac or not text:
        text += _sexagesimal(sec) if text else read_int(sec, False)
        text += read_fraction(frac)
        text += "秒"
    return text


def _hour_ampm(m: re.Match[str]) -> str:
    prefix = m["pre"] or ("上午" if m["ap"][0] in "Aa" else "下午")
    hour = int(m["h"])
    return prefix + _spoken_hour(hour)


def _ratio_chain(m: re.Match[str]) -> str:
    parts = re.split("[:：]", m.group())
    if len(parts) == 3 and all(len(p) == 2 for p in parts[1:]):
        return m.group()  # 12:00:30 is a time (the clock rule reads it)
    spoken = [read_int(p, False) for p in parts]
    ratio = "比" in m.string[max(0, m.start() - 4) : m.start()]
    h, mi, sec = (int(p) for p in [*parts, "99"][:3])
    if len(parts) == 3 and not ratio and h <= 24 and mi < 60 and sec < 60:
        return f"{spoken[0]}点{spoken[1]}分{spoken[2]}秒"
    return "比".join(spoken)


def _sexagesimal(two: str) -> str:
    """Minutes/seconds: 05 -> 零五, 00 -> 零, 30 -> 三十."""
    if two.startswith("0"):
        return "零" + (read_digits(two[1]) if two != "00" else "")
    return read_int(two, False)


def _standalone_year(m: re.Match[str]) -> str:
    return read_digits(m["y"]) + "年"


_FESTIVE = (
    "劳动节|国庆|儿童节|妇女节|青年节|晚会|假期|黄金周|长假|小长假|购物节|大促|促销"
    "|活动|狂欢|情人节|建军节|教师节|消费者"
)


def _holiday(m: re.Match[str]) -> str:
    return read_int(m["m"], False) + read_digits(m["d"])


RULES: list[Rule] = [
    # Holidays named by their date (5.1劳动节, 3.15晚会, 10.1国庆): the month, then
    # the day's digits (五一, 三一五, 十一); shopping days likewise (618大促, 双11).
    (
        re.compile(NB + r"(?P<m>1[0-2]|[1-9])[./](?P<d>[0-3]?\d)(?=" + _FESTIVE + ")"),
        _holiday,
    ),
    (re.compile(NB + r"(?P<d>618|520|1111|1212)(?=" + _FESTIVE + ")"), digits_of),
    # Dates written with a middle dot name events (9·11事件, “5·12”地震, 12·9运动):
    # digit by digit, as they are said (九一一, 五一二, 一二九). Any other dot
    # between digits is a decimal point (People's Daily: 增长3·3%, 1·8万人).
    (
        re.compile(
            NB + r"(?P<m>1[0-2]|[1-9])[·•・](?P<d>3[01]|[12]\d|[1-9])(?!\d)"
            r"(?=”|\"|事件|事变|地震|运动|空难|惨案|枪击|大案|纪念|晚会)"
        ),
        lambda m: read_digits(m["m"]) + read_digits(m["d"]),
    ),
    (re.compile(NB + r"911(?=事件|恐怖|袭击)"), lambda m: "九一一"),
    (re.compile(r"(?<=\d)[·•・](?=\d)"), lambda m: "."),
    # English decades (1990s): 一九九零年代.
    (
        re.compile(NB + r"(?P<y>1[5-9]\d0|20\d0)s(?![A-Za-z])"),
        lambda m: read_digits(m["y"]) + "年代",
    ),
    # A written 0 minute after 点 (1点05分, 9点05): 零, as in 1:05.
    (re.compile(r"(?<=\d点)0(?=[1-9](?:分|(?![\d.])))"), lambda m: "零"),
    # Decades: 90年代 -> 九十年代 (the standard reading; 九零 is for 90后).
    (
        re.compile(NB + r"(?P<d>[1-9]0)(?=年代)"),
        lambda m: read_int(m["d"], False),
    ),
    (
        re.compile(
            NB + r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})" + NA
        ),
        _date_ymd,
    ),
    (
        re.compile(
            NB + r"(?P<m>\d{1,2})(?P<sep>[-/.])(?P<d>\d{1,2})(?P=sep)(?P<y>\d{4})" + NA
        ),
        _date_mdy,
    ),
    (
        re.compile(
            NB
            + r"(?P<y>[12]\d{3})(?:/(?P<m>\d{1,2})|\.(?P<m2>\d{2}))(?P<d>)"
            + r"(?![\d.万亿千百元%])"
        ),
        _date_ymd,
    ),
    # 2023.1 (a year of this or the last century and a month 1-9): a date.
    (
        re.compile(
            NB
            + r"(?P<y>(?:19|20)\d\d)\.(?P<m>[1-9])(?P<d>)"
            + r"(?![\d.万亿千百元%倍A-Za-z]|\s*[个人只件年天次米克升吨度分秒])"
        ),
        _date_ymd,
    ),
    # Month/year only for plausible years (5/2023); 1/1000 is a fraction.
    (
        re.compile(NB + r"(?P<m>\d{1,2})/(?P<y>1[89]\d\d|20\d\d)(?P<d>)" + NA),
        _date_mdy,
    ),
    # Two-digit years (NeMo): 12/2/2, 21-05-03 -> 一二年二月二日.
    (
        re.compile(
            NB
            + r"(?P<y>\d{2})(?P<sep>[-/])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
            + r"(?![\d./:-])"
        ),
        _date_ymd,
    ),
    # A month with its leading zero and a day (WeTextProcessing): 05/20 -> 五月二十日.
    (
        re.compile(
            NB + r"(?P<m>0[1-9])(?P<sep>[-/])(?P<d>[0-3]?\d)(?P<y>)(?![\d./:-])"
        ),
        lambda m: (
            read_int(m["m"], False) + "月" + read_int(m["d"], False) + "日"
            if 1 <= int(m["d"]) <= 31
            else m.group()
        ),
    ),
    (
        re.compile(
            NB + r"(?P<y>\d{1,4})\s*(?P<era>a\.?d\.?|b\.?c\.?)(?P<rest>(?:\d{1,2}月)?)",
            re.I,
        ),
        _era,
    ),
    # Year ranges (1990-2000年, 2023-2024赛季): both years digit by digit.
    (
        re.compile(
            NB
            + r"(?P<a>[12]\d{3})\s*(?:——|[-~～—–至到])\s*(?P<b>[12]\d{3})"
            + r"(?=年|赛季|财年|学年|年度|财政年度)"
        ),
        lambda m: read_digits(m["a"]) + "到" + read_digits(m["b"]),
    ),
    # An era written after a date (1823年3月bc): 公元前一八二三年三月.
    (
        re.compile(
            NB
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
    # A document number's year in brackets (国发〔2023〕5号, [2023]): digit by digit.
    (
        re.compile(r"(?<=[〔\[［【(（])(?P<y>(?:19|20)\d{2})(?=[〕\]］】)）])"),
        lambda m: read_digits(m["y"]),
    ),
    # A year naming a season, class or model (2023财年, 2023届, 2024款): digit by digit.
    (
        re.compile(
            NB + r"(?P<y>(?:19|20)\d{2})(?=财年|学年|赛季|届|级|版|款|财政年度)"
        ),
        lambda m: read_digits(m["y"]),
    ),
    # Four digits before 年 are a year, unless no calendar year (5000年) or a round
    # span of years (3000年前, 2000年来, 5000年历史; but 在2000年前 is a date):
    # those count years.
    (
        re.compile(
            r"(?P<pre>)" + NB + r"(?P<y>\d{4})年(?P<after>前(?!后)|来|多|之久|的?历史)?"
        ),
        _year_or_span,
    ),
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
            r"(?P<pre>)" + NB + r"(?P<y>0\d|\d{2}(?=年(?:代|初|末|底|\d{1,2}月)))年"
        ),
        _year,
    ),
    (re.compile(NB + r"(?P<y>\d0)(?=后)"), lambda m: read_digits(m["y"])),
    # A lap or race time with tenths (1:45.3, 0:59.87): minutes and seconds.
    (
        re.compile(
            r"(?<![\d.:：])(?P<min>\d{1,2})[:：](?P<s>[0-5]\d)\.(?P<frac>\d+)" + NA
        ),
        _lap_time,
    ),
    *scores.RULES,
    # Three or more terms that are no written-out clock time: a ratio after 比
    # (比例为1:2:3), else a time if they can be one (3:4:5 -> 三点四分五秒).
    (
        re.compile(NB + r"\d{1,3}(?:[:：]\d{1,3}){2,}" + NA + r"(?![:：]\d)"),
        _ratio_chain,
    ),
    (
        re.compile(
            r"(?P<pre>上午|下午|早上|晚上|凌晨|中午)?"
            + NB
            + r"(?P<h>\d{1,2})[:：](?P<min>\d{2})"
            + r"(?:[:：](?P<s>\d{2})(?:\.(?P<frac>\d+))?)?"
            + NA
            + r"(?:\s*(?P<ap>[AaPp]\.?\s?[Mm]\.?)(?![A-Za-z]))?"
        ),
        _clock,
    ),
    # An hour with am/pm and no minutes (8am, 8点pm, 8 a.m.): 上午八点.
    (
        re.compile(
            r"(?P<pre>上午|下午|早上|晚上|凌晨|中午)?"
            + NB
            + r"(?P<h>1[0-2]|0?\d)(?P<dian>点)?\s?(?P<ap>[AaPp]\.?\s?[Mm]\.?)(?![A-Za-z\d])"
        ),
        _hour_ampm,
    ),
    (
        re.compile(
            NB
            + r"(?P<a>\d{1,3})\s*[:：]\s*(?P<b>\d{1,3}(?:\.\d+)?)"
            + NA
            + r"(?![:：]\d)(?P<ctx>)"
        ),
        # A ratio's second term may be a decimal (1:2.5 -> 一比二点五).
        lambda m: read_int(m["a"], False) + "比" + read_decimal(m["b"], False),
    ),
]
"""Applied in order; each returns spoken text for its match."""
