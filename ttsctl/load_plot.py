"""The load sweep as a picture: latency, and throughput against goodput, by callers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot"]


def plot(
    settings: dict[str, Any], levels: Sequence[dict[str, Any]], path: Path
) -> None:
    """Write a PNG: time to first audio (p50/p95/p99) on the left, requests/s,
    goodput/s and audio s/s on the right, concurrency on a log axis."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display needed
    import matplotlib.pyplot as plt

    x = [level["concurrency"] for level in levels]
    fig, (lat, thr) = plt.subplots(1, 2, figsize=(11, 4.2))
    for q, style in (("p50", "-o"), ("p95", "--s"), ("p99", ":^")):
        y = [level["first_audio_s"][q] for level in levels]
        lat.plot(x, [v if v is not None else float("nan") for v in y], style, label=q)
    lat.set(xscale="log", xlabel="concurrent callers", ylabel="time to first audio (s)",
            title="Latency")  # fmt: skip
    lat.legend()
    for key, style, label in (
        ("requests_per_s", "-o", "completed requests/s"),
        ("goodput_per_s", "-s", "goodput: within deadline/s"),
        ("audio_s_per_s", "--^", "audio seconds per second"),
    ):
        thr.plot(x, [level[key] for level in levels], style, label=label)
    thr.set(xscale="log", xlabel="concurrent callers", title="Throughput")
    thr.legend()
    for ax in (lat, thr):
        ax.set_xticks(x, [str(v) for v in x])
        ax.grid(alpha=0.3)
    target = settings.get("target", "")
    fig.suptitle(f"ttsctl bench load: {target} {settings.get('address', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
