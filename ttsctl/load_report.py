"""Per-level figures of ``ttsctl bench load`` and their Markdown table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ttsctl.load_calls import StreamResult
from ttsctl.overload_report import percentile

__all__ = ["level_summary", "to_markdown"]


def _quantiles(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{q}": percentile(values, q / 100) for q in (50, 95, 99)}


def level_summary(
    results: Sequence[StreamResult], wall_s: float, deadline_s: float
) -> dict[str, Any]:
    """Throughput, goodput, latencies, stalls and errors of one level."""
    ok = [r for r in results if r.code == "OK" and r.complete]
    on_time = [r for r in ok if r.elapsed_s <= deadline_s]
    refused = [r.elapsed_s for r in results if r.code == "RESOURCE_EXHAUSTED"]
    firsts = [r.first_audio_s for r in ok if r.first_audio_s is not None]
    return {
        "requests": len(results),
        "requests_per_s": round(len(ok) / wall_s, 3),
        "goodput_per_s": round(len(on_time) / wall_s, 3),
        "audio_s_per_s": round(sum(r.audio_s for r in ok) / wall_s, 3),
        "first_audio_s": _quantiles(firsts),
        "max_stall_s_p95": percentile([r.max_stall_s for r in ok], 0.95),
        "stalls": sum(r.stalls for r in ok),
        "requests_with_stalls": sum(r.stalls > 0 for r in ok),
        "refusal_s": _quantiles(refused),
        "codes": dict(Counter(r.code for r in results)),
        "incomplete_ok": sum(r.code == "OK" and not r.complete for r in results),
    }


def _num(value: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def to_markdown(settings: dict[str, Any], levels: Sequence[dict[str, Any]]) -> str:
    """The sweep as one table (times in ms), settings above it."""
    head = ", ".join(f"{k} {v}" for k, v in settings.items())
    lines = [
        f"Settings: {head}", "",
        "| callers | req/s | goodput/s | audio s/s | TTFA p50 | p95 | p99 | "
        "stall p95 | stalls | refusal p99 | statuses | CPU cores (peak RSS MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for level in levels:
        ttfa, refusal = level["first_audio_s"], level["refusal_s"]
        procs = "; ".join(
            f"{name} {p['cpu_cores']:.2f} ({p['peak_rss_mb']:.0f})"
            for name, p in level.get("processes", {}).items()
        )
        codes = ", ".join(f"{k} {v}" for k, v in sorted(level["codes"].items()))
        lines.append(
            f"| {level['concurrency']} | {level['requests_per_s']:.2f} | "
            f"{level['goodput_per_s']:.2f} | {level['audio_s_per_s']:.2f} | "
            f"{_num(ttfa['p50'], 1000, 0)} | {_num(ttfa['p95'], 1000, 0)} | "
            f"{_num(ttfa['p99'], 1000, 0)} | "
            f"{_num(level['max_stall_s_p95'], 1000, 0)} | {level['stalls']} | "
            f"{_num(refusal['p99'], 1000, 1)} | {codes} | {procs} |"
        )
    return "\n".join(lines) + "\n"
