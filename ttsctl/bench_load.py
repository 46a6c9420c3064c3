"""``ttsctl bench load``: throughput and latency as concurrency grows.

A bounded, closed-loop load over the gRPC streaming API: at each concurrency level
(default 1, 2, 4, 8, 16, 32) that many callers each run one request after another
for ``--duration`` seconds. Against the gateway (``--server``, or ``--stack
MODEL_DIR`` to start a local one) callers stream sentences, a ``--hit-ratio`` share
of them cached (the rest ``no_cache``); against one stage alone (``--stage acoustic
ADDR`` or ``--stage vocoder ADDR``) they call its own API, so an operator gets each
stage's capacity per replica. A refused caller waits its ``retry-after-ms`` (at
most 2 s) before trying again. Per level: requests/s, goodput (requests finished
within ``--deadline``), audio seconds per wall second, time to first audio
p50/p95/p99, stalls, errors by status, and CPU and peak memory per process (with
``--stack``, or ``--pids name=pid,...``). Writes ``<out>.json``, ``<out>.md`` and
``<out>.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from ttsctl.load_calls import StreamResult
from ttsctl.load_report import level_summary, to_markdown
from ttsctl.load_targets import (
    DEFAULT_SENTENCES,
    Target,
    open_target,
    optional_stack,
    read_sentences,
)
from ttsctl.procwatch import parse_pids, snapshot, stack_pids

_MAX_BACKOFF_S = 2.0


def add_arguments(bench_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = bench_sub.add_parser("load", help="concurrency sweep: throughput, latency")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", help="a running gateway's HOST:PORT")
    where.add_argument("--stack", metavar="MODEL_DIR", help="start a local stack")
    where.add_argument("--stage", nargs=2, metavar=("acoustic|vocoder", "ADDR"),
                       help="one stage alone, over its own API")  # fmt: skip
    p.add_argument("--concurrency", default="1,2,4,8,16,32", help="levels, comma-sep.")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    p.add_argument("--deadline", type=float, default=30.0, help="per request, s")
    p.add_argument("--no-cache", action="store_true", help="= --hit-ratio 0")
    p.add_argument("--hit-ratio", type=float, default=0.0, help="share cached")
    p.add_argument("--sentences", default=str(DEFAULT_SENTENCES), help="one per line")
    p.add_argument("--pids", default="", help="name=pid,... to watch (no --stack)")
    p.add_argument("--stack-env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=None, help="path prefix for .json, .md, .png")
    p.add_argument("--seed", type=int, default=0)


Call = Callable[[int, random.Random], Awaitable[StreamResult]]


async def _level(
    call: Call, callers: int, duration_s: float, pids: Callable[[], dict[str, int]]
) -> tuple[list[StreamResult], dict[str, Any], float]:
    """Run one level: its results, per-process CPU cores and peak RSS, wall time."""
    results: list[StreamResult] = []
    stop = asyncio.Event()

    async def caller(n: int) -> None:
        rng = random.Random(n)
        i = n
        while not stop.is_set():
            result = await call(i, rng)
            results.append(result)
            i += callers
            if result.code != "OK":
                pause = min(_MAX_BACKOFF_S, result.retry_after_s or 0.1)
                await asyncio.sleep(pause * rng.uniform(0.5, 1.5))

    before, start = snapshot(pids()), time.monotonic()
    peak = {name: s.rss_mb for name, s in before.items()}
    tasks = [asyncio.create_task(caller(n)) for n in range(callers)]
    while (left := start + duration_s - time.monotonic()) > 0:
        await asyncio.sleep(min(1.0, left))
        for name, stat in snapshot(pids()).items():
            peak[name] = max(peak.get(name, 0.0), stat.rss_mb)
    stop.set()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - start
    after = snapshot(pids())
    procs = {
        name: {"cpu_cores": round((after[name].cpu_s - b.cpu_s) / wall, 3),
               "peak_rss_mb": peak[name]}
        for name, b in before.items() if name in after
    }  # fmt: skip
    return results, procs, wall


async def _sweep(target: Target, args: argparse.Namespace, levels: list[int],
                 pids: Callable[[], dict[str, int]]) -> list[dict[str, Any]]:  # fmt: skip
    out = []
    await target.prepare()
    for callers in levels:
        results, procs, wall = await _level(target.call, callers, args.duration, pids)
        summary = level_summary(results, wall, args.deadline)
        summary.update(concurrency=callers, processes=procs)
        print(json.dumps({k: summary[k] for k in ("concurrency", "requests_per_s",
              "goodput_per_s", "audio_s_per_s", "first_audio_s", "codes")}),
              flush=True)  # fmt: skip
        out.append(summary)
    return out


def run(args: argparse.Namespace) -> int:
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    hit_ratio = 0.0 if args.no_cache else args.hit_ratio
    texts = read_sentences(args.sentences)
    fixed = parse_pids(args.pids)
    with optional_stack(args) as stack:
        pids = stack_pids(stack) if stack else (lambda: fixed)
        if args.stage:
            kind, address = args.stage
        else:
            kind, address = "gateway", stack.gateway_address if stack else args.server
        options = (("grpc.max_receive_message_length", 64 << 20),)

        async def main() -> list[dict[str, Any]]:
            async with grpc.aio.insecure_channel(address, options=options) as channel:
                target = await open_target(kind, channel, texts, hit_ratio, args)
                return await _sweep(target, args, levels, pids)

        results = asyncio.run(main())
    settings = {"target": kind, "address": address, "levels": levels,
                "duration_s": args.duration, "deadline_s": args.deadline,
                "hit_ratio": hit_ratio, "sentences": args.sentences}  # fmt: skip
    table = to_markdown(settings, results)
    print(table)
    if args.out:
        from ttsctl.load_plot import plot

        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"settings": settings, "levels": results}
        out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
        out.with_suffix(".md").write_text(table)
        plot(settings, results, out.with_suffix(".png"))
    return 0
