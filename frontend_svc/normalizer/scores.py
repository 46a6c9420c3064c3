"""Sports scores: a pair of numbers after a team, a sports word or before a result.

A dash between numbers is usually a range (3-5天); after a team name (中国1-2,
listed in ``sport_teams.txt``), after a sports word (比分, 战胜, 以) or before a
result (1-1战平) it is a score, read with 比.
"""

from __future__ import annotations

import re
from pathlib import Path

from frontend_svc.normalizer.money import ends_with_code
from frontend_svc.normalizer.numbers import read_int
from frontend_svc.normalizer.rule import NA, NB, Rule

__all__ = ["RULES"]


def _load_teams() -> tuple[frozenset[str], int]:
    path = Path(__file__).with_name("sport_teams.txt")
    names = {
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    return frozenset(names), max(map(len, names))


_TEAMS, _TEAM_MAX = _load_teams()


_NOT_A_TEAM = "第至从到周每版号年月日点时"
"""Just before a pair, these make it an ordinal, a time or a version, not a score."""


def _team_score(m: re.Match[str]) -> str:
    """``中国1-2``, ``拉齐奥 2/2``: a pair right after a team name is a score; so is
    a dashed pair that does not go up (``拜仁3-2``)."""
    start = m.start()
    text = m.string
    if ends_with_code(text[:start]):
        return m.group()  # an amount: the money rules read it
    for size in range(2, min(_TEAM_MAX, start) + 1):
        if text[start - size : start] in _TEAMS:
            return read_int(m["a"], False) + "比" + read_int(m["b"], False)
    # Not a listed team (拜仁3-2, 皇马0-0): a dashed pair after a name that does
    # not go up is no range (3到2 says nothing), so it is a score.
    before = text[max(0, start - 3) : start]
    if (
        "-" in m.group()
        and int(m["a"]) >= int(m["b"])
        and len(m["a"]) <= 2
        and not any(c in before for c in _NOT_A_TEAM)
    ):
        return read_int(m["a"], False) + "比" + read_int(m["b"], False)
    return m.group()


def _score(m: re.Match[str]) -> str:
    return m["ctx"] + read_int(m["a"], False) + "比" + read_int(m["b"], False)


# A score needs a sports word just before it (up to 4 other characters between).
_SCORE_CTX = (
    r"(?P<ctx>(?:比分|比赛|战胜|击败|力克|爆冷|负于|胜|负|平|以|队)[^\d，。,]{0,4}?)"
)


RULES: list[Rule] = [
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
            + NB
            + r"(?P<a>\d{1,3})\s*[:：\-]\s*(?P<b>\d{1,3})"
            + NA
            + r"(?![:：]\d|\.\d)"  # 12:00:30 is a clock time, 1:2.5 a ratio
        ),
        _score,
    ),
    # A dashed pair followed by a result (0-1负于, 1-1战平) is a score too.
    (
        re.compile(
            NB
            + r"(?P<a>\d{1,3})\s*[-－]\s*(?P<b>\d{1,3})"
            + NA
            + r"(?=\s*(?:战平|战胜|击败|获胜|取胜|负于|告负|落败|惜败|险胜|大胜|完胜|"
            + r"逆转|晋级|横扫|力克|胜出|收官|的比分))(?P<ctx>)"
        ),
        _score,
    ),
]
"""Spliced into the date rules after the years and before the ratios and clocks."""
