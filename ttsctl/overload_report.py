"""Figures and verdicts of an overload or soak run (``ttsctl bench overload``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["GOALS", "Call", "Sample", "percentile", "summarize", "to_markdown"]

GOALS = {"refusal_p99_s": 0.1, "cached_p99_s": 0.05, "memory_growth": 0.10}
"""#13's goals: refusals under 100 ms, cached p99 under 50 ms, memory within 10%."""


@dataclass(frozen=True)
class Call:
    """One request of the load."""

    kind: str
    """``uncached`` (a stream) or ``cached`` (unary)."""
    code: str
    at_s: float
    """When it started, seconds into the load."""
    elapsed_s: float
    first_audio_s: float | None
    complete: bool
    """A stream that ended with ``last_in_stream`` (unary: a reply)."""


@dataclass(frozen=True)
class Sample:
    """One process's resources at one moment."""

    at_s: float
    process: str
    rss_mb: float
    fds: int
    threads: int


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _latencies(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "count": len(values),
        "p50_s": percentile(values, 0.5),
        "p99_s": percentile(values, 0.99),
        "max_s": max(values) if values else None,
    }


def _processes(
    samples: Sequence[Sample], warmup_s: float
) -> dict[str, dict[str, float]]:
    by_name: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_name[s.process].append(s)
    out = {}
    for name, rows in by_name.items():
        after = [r for r in rows if r.at_s >= warmup_s] or rows
        base, last = after[0], rows[-1]
        out[name] = {
            "rss_mb_start": rows[0].rss_mb, "rss_mb_after_warmup": base.rss_mb,
            "rss_mb_end": last.rss_mb, "rss_mb_max": max(r.rss_mb for r in rows),
            "rss_growth": round(last.rss_mb / base.rss_mb - 1, 4),
            "fds_after_warmup": base.fds, "fds_end": last.fds,
            "threads_after_warmup": base.threads, "threads_end": last.threads,
        }  # fmt: skip
    return out


def summarize(
    calls: Sequence[Call],
    samples: Sequence[Sample],
    deadline_s: float,
    warmup_s: float,
) -> dict[str, Any]:
    """Counts by status, latencies per outcome, per-process resources, verdicts."""
    uncached = [c for c in calls if c.kind == "uncached"]
    cached = [c for c in calls if c.kind == "cached"]
    ok = [c for c in uncached if c.code == "OK"]
    refused = [c for c in uncached if c.code == "RESOURCE_EXHAUSTED"]
    failed = [c for c in uncached if c.code not in ("OK", "RESOURCE_EXHAUSTED")]
    cached_ok = [c.elapsed_s for c in cached if c.code == "OK"]
    span = max((c.at_s + c.elapsed_s for c in calls), default=0.0) or 1.0
    processes = _processes(samples, warmup_s)
    summary: dict[str, Any] = {
        "uncached_by_code": dict(Counter(c.code for c in uncached)),
        "cached_by_code": dict(Counter(c.code for c in cached)),
        "goodput_per_s": round(len(ok) / span, 3),
        "admitted_ok": _latencies([c.elapsed_s for c in ok]),
        "admitted_late_or_failed": len(failed),
        "ok_incomplete": sum(not c.complete for c in ok),
        "refusals": _latencies([c.elapsed_s for c in refused]),
        "cached": _latencies(cached_ok),
        "processes": processes,
    }
    refusal_p99 = summary["refusals"]["p99_s"]
    cached_p99 = summary["cached"]["p99_s"]
    verdict = {
        "admitted_finish_in_deadline": not failed
        and all(c.elapsed_s <= deadline_s for c in ok)
        and not summary["ok_incomplete"],
        "refusals_fast": refusal_p99 is None or refusal_p99 < GOALS["refusal_p99_s"],
        "cached_fast": cached_p99 is not None and cached_p99 < GOALS["cached_p99_s"],
        "cached_all_ok": len(cached_ok) == len(cached),
    }
    if processes:
        verdict["memory_flat"] = all(
            p["rss_growth"] <= GOALS["memory_growth"] for p in processes.values()
        )
        verdict["no_fd_or_thread_growth"] = all(
            p["fds_end"] <= p["fds_after_warmup"]
            and p["threads_end"] <= p["threads_after_warmup"]
            for p in processes.values()
        )
    verdict["all_held"] = all(verdict.values())
    summary["verdict"] = verdict
    return summary


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def to_markdown(settings: dict[str, Any], summary: dict[str, Any]) -> str:
    """A table a person reads: settings, outcomes, latencies, processes, verdicts."""
    lines = [
        "| setting | value |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in settings.items()),
        "", f"uncached calls by status: {summary['uncached_by_code']}  ",
        f"cached calls by status: {summary['cached_by_code']}  ",
        f"goodput: {summary['goodput_per_s']} completed uncached requests/s", "",
        "| latency (ms) | count | p50 | p99 | max |", "|---|---|---|---|---|",
    ]  # fmt: skip
    for name in ("admitted_ok", "refusals", "cached"):
        row = summary[name]
        lines.append(
            f"| {name} | {row['count']} | {_ms(row['p50_s'])} | "
            f"{_ms(row['p99_s'])} | {_ms(row['max_s'])} |"
        )
    if summary["processes"]:
        lines += [
            "",
            "| process | RSS start | after warm-up | end | max | growth | fds "
            "(warm -> end) | threads (warm -> end) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, p in summary["processes"].items():
            lines.append(
                f"| {name} | {p['rss_mb_start']} | {p['rss_mb_after_warmup']} | "
                f"{p['rss_mb_end']} | {p['rss_mb_max']} | {p['rss_growth']:+.1%} | "
                f"{p['fds_after_warmup']} -> {p['fds_end']} | "
                f"{p['threads_after_warmup']} -> {p['threads_end']} |"
            )
    lines += ["", "| goal | held |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary["verdict"].items()]
    return "\n".join(lines) + "\n"
