"""``ttsctl capacity``: the measured capacity picks replicas and prices them."""

from __future__ import annotations

from typing import Any

import pytest

from ttsctl.capacity import capacity, plan

_PRICES = {"currency": "USD", "tiers": {"cpu": {"price_per_hour": 0.36},
                                        "gpu": {"price_per_hour": 0.72}}}  # fmt: skip


def _level(callers: int, rps: float, p95: float, codes: dict[str, int]) -> Any:
    return {"concurrency": callers, "requests_per_s": rps, "audio_s_per_s": rps * 3,
            "first_audio_s": {"p95": p95}, "codes": codes, "incomplete_ok": 0}  # fmt: skip


def _load(*levels: Any) -> dict[str, Any]:
    return {"settings": {"address": "127.0.0.1:1"}, "levels": list(levels)}


def test_capacity_is_the_busiest_level_within_the_bound_without_errors() -> None:
    load = _load(
        _level(1, 1.0, 0.2, {"OK": 30}),
        _level(4, 3.0, 0.8, {"OK": 90}),
        _level(8, 3.5, 1.5, {"OK": 100}),  # too slow to first audio
        _level(16, 3.6, 0.9, {"OK": 90, "RESOURCE_EXHAUSTED": 5}),  # refused some
    )
    best = capacity(load, max_ttfa_s=1.0)
    assert best is not None and best["concurrency"] == 4
    assert capacity(load, max_ttfa_s=0.1) is None


def test_replicas_and_costs_follow_from_capacity_and_price() -> None:
    stages = [("acoustic", _load(_level(4, 2.0, 0.5, {"OK": 60})), "cpu"),
              ("vocoder", _load(_level(8, 10.0, 0.5, {"OK": 300})), "gpu")]  # fmt: skip
    result = plan(stages, _PRICES, target_rps=5.0, max_ttfa_s=1.0)
    acoustic, vocoder = result["stages"]
    assert acoustic["estimated"]["replicas"] == 3  # ceil(5 / 2)
    assert vocoder["estimated"]["replicas"] == 1
    # Full use: 0.36 $/h / 3600 / 2 rps * 1000 = 0.05; 0.72 / 3600 / 10 * 1000 = 0.02.
    assert acoustic["estimated"]["cost_per_1k_full_utilization"] == pytest.approx(0.05)
    assert result["estimated"]["cost_per_1k_full_utilization"] == pytest.approx(0.07)
    # At the target: (3 x 0.36 + 0.72) $/h for 5 rps -> 1.8 / 3600 / 5 * 1000 = 0.1.
    assert result["estimated"]["cost_per_1k_at_target"] == pytest.approx(0.1)
    assert acoustic["measured"]["requests_per_s"] == 2.0
