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


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").split("\n")[1:]
    return [line.split("\t") for line in lines if line]


def _data_dir(shared_dir: str | Path) -> Path:
    base = Path(shared_dir)
    return base if (base / "cpp_dev.tsv").exists() else base / "frontend_dev"


def polyphone_accuracy(fe: Frontend, data: Path) -> dict[str, Any]:
    """CPP dev subset: lexical pinyin (``sandhi=False``) of the target character."""
    rows = _rows(data / "cpp_dev.tsv")
    correct = 0
    for sentence, index, _char, gold in rows:
        han_pos = sum(1 for ch in sentence[: int(index)] if _is_han(ch))
        got = fe.g2p(sentence, sandhi=False)
        correct += han_pos < len(got) and got[han_pos] == gold
    return {"items": len(rows), "accuracy": correct / max(len(rows), 1)}


def _tn_key(text: str) -> str:
    return _DROP_RE.sub("", text).replace("幺", "一").replace("两", "二")


def tn_exact(fe: Frontend, data: Path) -> dict[str, Any]:
    """tn_dev exact match per source, punctuation/space-blind, 幺=一 and 两=二."""
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _category, text, expected, sources, flags in _rows(data / "tn_dev.tsv"):
        if set(flags.split(",")) & ASR_ONLY_FLAGS:
            continue
        ok = _tn_key(fe.normalize(text)) == _tn_key(expected)
        repos = {s.split(":", 1)[0] for s in sources.split(";")}
        for key in repos | {"overall"}:
            hits[key][0] += ok
            hits[key][1] += 1
    return {k: {"items": n, "exact": c / n} for k, (c, n) in sorted(hits.items())}


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


def run_benchmark(shared_dir: str | Path) -> dict[str, Any]:
    """Run every frontend benchmark; returns (and logs) the numbers and the targets."""
    data = _data_dir(shared_dir)
    fe = Frontend()
    result = {
        "polyphone": polyphone_accuracy(fe, data),
        "tn": tn_exact(fe, data),
        "sandhi": sandhi_accuracy(fe, data),
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
