"""``ttsctl capacity``: replicas and cost per 1,000 syntheses, from measured capacity.

Reads ``ttsctl bench load --stage acoustic|vocoder --out ...`` results (one JSON per
stage). A stage's *capacity per replica* is the requests/s of the busiest level that
stayed within ``--max-ttfa`` (time to first audio, p95) with no errors: measured.
Everything after that is an estimate, and labelled so: replicas for ``--target-rps``
(capacity assumed to hold on the tier's instance, which is rarely the machine that
measured it), their hourly price from the price table (``GATEWAY_PRICE_TABLE``'s
format), and the cost per 1,000 syntheses (of the bench's sentences) at full
utilization and at the target load.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import yaml

__all__ = ["add_arguments", "plan", "run"]

_EXAMPLE_PRICES = (
    Path(__file__).resolve().parents[1] / "gateway/cache/pricing_example.yaml"
)


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("capacity", help="replicas and cost per 1,000 syntheses")
    p.add_argument("--stage", action="append", nargs=3, required=True,
                   metavar=("STAGE", "LOAD_JSON", "TIER"),
                   help="a stage, its bench load JSON and the price tier it runs on")  # fmt: skip
    p.add_argument("--prices", default=str(_EXAMPLE_PRICES), help="price table")
    p.add_argument("--target-rps", type=float, default=10.0, help="syntheses/s")
    p.add_argument("--max-ttfa", type=float, default=1.0, help="p95 TTFA bound, s")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def capacity(load: dict[str, Any], max_ttfa_s: float) -> dict[str, Any] | None:
    """The busiest level of a sweep within the TTFA bound and without errors."""
    fit = [
        level
        for level in load["levels"]
        if set(level["codes"]) <= {"OK"}
        and not level["incomplete_ok"]
        and level["first_audio_s"]["p95"] is not None
        and level["first_audio_s"]["p95"] <= max_ttfa_s
    ]
    return max(fit, key=lambda level: level["requests_per_s"], default=None)


def plan(
    stages: list[tuple[str, dict[str, Any], str]],
    prices: dict[str, Any],
    target_rps: float,
    max_ttfa_s: float,
) -> dict[str, Any]:
    """Per stage: measured capacity, estimated replicas and cost; and the totals."""
    rows: list[dict[str, Any]] = []
    per_1k_full = per_hour = 0.0
    for name, load, tier in stages:
        price = float(prices["tiers"][tier]["price_per_hour"])
        level = capacity(load, max_ttfa_s)
        if level is None:
            rows.append({"stage": name, "tier": tier, "measured": None})
            continue
        rps = level["requests_per_s"]
        replicas = math.ceil(target_rps / rps)
        full = price / 3600 / rps * 1000
        per_1k_full += full
        per_hour += replicas * price
        rows.append({
            "stage": name, "tier": tier,
            "measured": {"requests_per_s": rps, "concurrency": level["concurrency"],
                         "ttfa_p95_s": level["first_audio_s"]["p95"],
                         "audio_s_per_s": level["audio_s_per_s"],
                         "measured_on": load["settings"].get("address", "")},
            "estimated": {"replicas": replicas, "price_per_hour": price,
                          "cost_per_1k_full_utilization": round(full, 5)},
        })  # fmt: skip
    at_target = per_hour / 3600 / target_rps * 1000 if target_rps else 0.0
    return {
        "currency": prices.get("currency", ""),
        "target_rps": target_rps, "max_ttfa_s": max_ttfa_s, "stages": rows,
        "estimated": {"cost_per_hour": round(per_hour, 4),
                      "cost_per_1k_full_utilization": round(per_1k_full, 5),
                      "cost_per_1k_at_target": round(at_target, 5)},
    }  # fmt: skip


def _text(result: dict[str, Any]) -> str:
    cur = result["currency"]
    lines = [
        f"target {result['target_rps']} syntheses/s, p95 time to first audio <= "
        f"{result['max_ttfa_s']} s",
        "stage     tier        measured req/s/replica  (at callers)  "
        "est. replicas  est. cost/1k at full use",
    ]
    for row in result["stages"]:
        m = row["measured"]
        if m is None:
            lines.append(f"{row['stage']:9s} {row['tier']:11s} no level met the bound")
            continue
        e = row["estimated"]
        lines.append(
            f"{row['stage']:9s} {row['tier']:11s} {m['requests_per_s']:22.3f}  "
            f"({m['concurrency']:>10})  {e['replicas']:13d}  "
            f"{e['cost_per_1k_full_utilization']:.4f} {cur}"
        )
    e = result["estimated"]
    lines += [
        f"estimated: {e['cost_per_hour']:.3f} {cur}/hour for the target; "
        f"{e['cost_per_1k_at_target']:.4f} {cur} per 1,000 syntheses at the target, "
        f"{e['cost_per_1k_full_utilization']:.4f} at full utilization",
        "(capacity is measured; replicas and costs are estimates that assume the "
        "same capacity per replica on each tier's instance)",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    prices = yaml.safe_load(Path(args.prices).read_text("utf-8"))
    stages = [
        (name, json.loads(Path(path).read_text("utf-8")), tier)
        for name, path, tier in args.stage
    ]
    result = plan(stages, prices, args.target_rps, args.max_ttfa)
    print(json.dumps(result, indent=1) if args.json else _text(result))
    return 0
