"""``ttsctl bench frontend``: accuracy and speed of the frontend on the dev data.

Reads ``<shared_dir>/frontend_dev/{cpp_dev,tn_dev,sandhi_dev}.tsv`` (see that folder's
README). Only this benchmark reads the shared folder; the product never does.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from frontend_svc.frontend import Frontend

_LOGGER = logging.getLogger(__name__)

ASR_ONLY_FLAGS = frozenset(
    {"erhua_removed", "interjection_removed", "punct_to_ascii", "empty_output"}
)
"""tn_dev flags for WeTextProcessing's ASR defaults, which a TTS frontend should not copy."""
TARGETS = {"polyphone": 0.97, "tn_exact": 0.90, "chars_per_s": 2000.0}
_DROP_RE = re.compile(r"[\s\W_]+")  # punctuation and spaces are not scored
_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "frontend_dev"
"""Fallback folder for tn_heldout.tsv (rebuilt by ``training/tn_heldout.py``)."""


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").split("\n")[1:]
    return [line.split("\t") for line in lines if line]


def _data_dir(shared_dir: str | Path) -> Path:
    base = Path(shared_dir)
    return base if (base / "cpp_dev.tsv").exists() else base / "frontend_dev"


def polyphone_accuracy(
    fe: Frontend, data: Path, name: str = "cpp_dev.tsv"
) -> dict[str, Any]:
    """CPP subset: lexical pinyin (``sandhi=False``) of the target character.

    ``cpp_dev.tsv`` (CPP dev) is what the polyphone reranker was trained and tuned on;
    ``cpp_heldout.tsv`` (CPP test) was never looked at while tuning.
    """
    rows = _rows(_tn_file(data, name) or data / name)
    correct = 0
    for sentence, index, _char, gold in rows:
        han_pos = sum(1 for ch in sentence[: int(index)] if _is_han(ch))
        got = fe.g2p(sentence, sandhi=False)
        correct += han_pos < len(got) and got[han_pos] == gold
    return {"items": len(rows), "accuracy": correct / max(len(rows), 1)}


def _tn_key(text: str) -> str:
    return _DROP_RE.sub("", text).replace("幺", "一").replace("两", "二")


# Rows whose expectation contradicts the house conventions (frontend_svc/CONVENTIONS.md,
# "House text-normalization conventions"); each test sees (input, expected). 两/二,
# 幺/一 and punctuation need none: the scoring key already treats them as equal.
_AMPM = r"(?:\d|点|分)\s*[AaPp]\.?[Mm]\.?(?![A-Za-z0-9])"
_CONVENTION_CHECKS: dict[str, Callable[[str, str], bool]] = {
    # 号 is kept as written; the source turns it into 日.
    "hao_to_ri": lambda i, e: "号" in i and e.count("号") < i.count("号") and "日" in e,
    # ¥/￥ read 元; the source says 人民币.
    "yen_as_renminbi": lambda i, e: bool(re.search("[¥￥]", i)) and "人民币" in e,
    # °C/℃ read 摄氏度; the source says 度.
    "celsius_as_du": lambda i, e: bool(re.search("°C|℃", i)) and "摄氏度" not in e,
    # a negative temperature reads 零下; the source says 负.
    "minus_degrees": lambda i, e: (
        bool(re.search(r"-\d+(\.\d+)?\s*(°|℃)", i)) and "零下" not in e
    ),
    # am/pm become 上午/下午; the source keeps the letters.
    "ampm_kept": lambda i, e: bool(re.search(_AMPM, i)) and bool(re.search(_AMPM, e)),
    # minutes 01-09 read 零X分; the source drops the 零 (三点四分).
    "minute_without_ling": lambda i, e: (
        bool(re.search(r"\d[:：]0[1-9]", i))
        and bool(re.search("点[一二三四五六七八九]分", e))
    ),
}
"""Name -> test; a row that passes a test is scored as "contradicts the house"."""


def convention_conflicts(text: str, expected: str) -> list[str]:
    """Names of the house conventions the row's expectation contradicts."""
    return [name for name, test in _CONVENTION_CHECKS.items() if test(text, expected)]


def _tn_file(data: Path, name: str) -> Path | None:
    for folder in (data, _FIXTURES):
        if (folder / name).is_file():
            return folder / name
    return None


def tn_exact(fe: Frontend, data: Path, name: str = "tn_dev.tsv") -> dict[str, Any]:
    """TN exact match per source, punctuation/space-blind, 幺=一 and 两=二.

    Three figures per source: ``raw`` (every row), ``exact`` (rows with an ASR-only
    flag left out: the historic figure) and ``exact_house`` (also leaving out the rows
    whose expectation contradicts a house convention). ``excluded`` counts the rows
    each exclusion removes (a row can have several reasons).
    """
    path = _tn_file(data, name)
    if path is None:
        return {"missing": name}
    raw: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    asr: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    house: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    excluded: dict[str, int] = defaultdict(int)
    for _category, text, expected, sources, flags in _rows(path):
        ok = _tn_key(fe.normalize(text)) == _tn_key(expected)
        keys = {s.split(":", 1)[0] for s in sources.split(";")} | {"overall"}
        asr_flags = set(flags.split(",")) & ASR_ONLY_FLAGS
        conflicts = convention_conflicts(text, expected)
        for reason in sorted(asr_flags) + conflicts:
            excluded[reason] += 1
        for key in keys:
            _tally(raw[key], ok)
            if not asr_flags:
                _tally(asr[key], ok)
                if not conflicts:
                    _tally(house[key], ok)
    out: dict[str, Any] = {
        k: {
            "items": asr[k][1],
            "exact": asr[k][0] / max(asr[k][1], 1),
            "raw_items": n,
            "raw": c / n,
            "house_items": house[k][1],
            "exact_house": house[k][0] / max(house[k][1], 1),
        }
        for k, (c, n) in sorted(raw.items())
    }
    out["file"] = str(path)
    out["excluded"] = dict(sorted(excluded.items()))
    return out


def _tally(cell: list[int], ok: bool) -> None:
    cell[0] += ok
    cell[1] += 1


def sandhi_accuracy(fe: Frontend, data: Path) -> dict[str, Any]:
    """sandhi_dev: surface pinyin for the upstream segmentation, per whole item."""
    total = correct = undisputed = correct_undisputed = 0
    for segmented, _citation, expected, flags in _rows(data / "sandhi_dev.tsv"):
        segments = segmented.split("|")
        ok = " ".join(fe.segmented_pinyin(segments)) == expected
        total += 1
        correct += ok
        if "disputed" not in flags:
            undisputed += 1
            correct_undisputed += ok
    return {
        "items": total,
        "accuracy": correct / max(total, 1),
        "accuracy_undisputed": correct_undisputed / max(undisputed, 1),
    }


def throughput(fe: Frontend, data: Path, seconds: float = 3.0) -> dict[str, Any]:
    """Characters per second of ``analyze`` on the CPP sentences, pinned to one core."""
    sentences = [r[0] for r in _rows(data / "cpp_dev.tsv")]
    pinned = hasattr(os, "sched_setaffinity")
    old = os.sched_getaffinity(0) if pinned else set()
    if pinned:
        os.sched_setaffinity(0, {min(old)})
    try:
        chars, start = 0, time.perf_counter()
        for sentence in sentences:
            fe.analyze(sentence)
            chars += len(sentence)
            if time.perf_counter() - start > seconds:
                break
        elapsed = time.perf_counter() - start
    finally:
        if pinned:
            os.sched_setaffinity(0, old)
    return {"chars": chars, "seconds": elapsed, "chars_per_s": chars / elapsed}


def english_accuracy(fe: Frontend, data: Path) -> dict[str, Any]:
    """English words in Chinese text (english_mixed.tsv): exact phones and stress
    tones per word for a voice with English phones, and that text's chars/s."""
    from frontend_svc.english import score_fixture

    path = _tn_file(data, "english_mixed.tsv")
    if path is None:
        return {"missing": "english_mixed.tsv"}
    start = time.perf_counter()
    out: dict[str, Any] = dict(score_fixture(fe, path))
    chars = sum(len(r[0]) for r in _rows(path) if not r[0].startswith("#"))
    out["chars_per_s"] = chars / (time.perf_counter() - start)
    out["file"] = str(path)
    return out


def run_benchmark(shared_dir: str | Path) -> dict[str, Any]:
    """Run every frontend benchmark; returns (and logs) the numbers and the targets."""
    data = _data_dir(shared_dir)
    fe = Frontend()
    result: dict[str, Any] = {
        "polyphone": polyphone_accuracy(fe, data),
        "polyphone_heldout": polyphone_accuracy(fe, data, "cpp_heldout.tsv")
        if _tn_file(data, "cpp_heldout.tsv")
        else None,
        "tn": tn_exact(fe, data),
        "tn_heldout": tn_exact(fe, data, "tn_heldout.tsv"),
        "sandhi": sandhi_accuracy(fe, data),
        "english": english_accuracy(fe, data),
        "throughput": throughput(fe, data),
        "targets": TARGETS,
    }
    result["passed"] = (
        result["polyphone"]["accuracy"] >= TARGETS["polyphone"]
        and result["tn"]["overall"]["exact"] >= TARGETS["tn_exact"]
        and result["throughput"]["chars_per_s"] >= TARGETS["chars_per_s"]
    )
    _LOGGER.info("frontend benchmark: %s", result)
    return result


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
