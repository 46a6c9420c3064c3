"""``ttsctl cache-report``: the gateway's cache and cost report, as text or JSON;
``ttsctl cache-purge``: drop cached audio of a voice or a model revision."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import grpc

from gateway.cache import report_to_dict
from sambert_tts_protos.v1 import gateway_service_pb2
from ttsctl.connect import add_server_argument, open_channel
from ttsctl.stubs import gateway_stub

__all__ = ["add_arguments", "run", "run_purge"]


def add_arguments(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``cache-report`` on the ttsctl parser."""
    report = sub.add_parser(
        "cache-report", help="cache hits, misses, audio and compute saved, cost"
    )
    report.add_argument("--json", action="store_true", help="machine-readable output")
    add_server_argument(report)
    report.add_argument(
        "--window",
        type=int,
        default=0,
        help="only the last N seconds (whole minutes); 0 = all",
    )
    report.add_argument("--voice", default="", help="only this voice")
    report.add_argument(
        "--top",
        type=int,
        default=0,
        help="repeated sentences to list (0 = the gateway's default)",
    )
    report.add_argument("--timeout", type=float, default=30.0)
    purge = sub.add_parser(
        "cache-purge", help="delete cached audio of a voice and/or a model revision"
    )
    purge.add_argument(
        "--redis",
        default="",
        help="Redis URL, as REDIS_URL (default: $REDIS_URL, else the Redis of the "
        "`ttsctl up` running for this user)",
    )
    purge.add_argument("--voice", default="", help="only this voice")
    purge.add_argument(
        "--revision",
        default="",
        help="only entries made by this acoustic, vocoder or frontend "
        "revision (hex, at least 12 characters)",
    )
    purge.add_argument(
        "--all",
        action="store_true",
        help="required to purge everything (no --voice or --revision)",
    )


def _line(name: str, s: dict[str, Any]) -> str:
    cur = s["currency"]
    money = ""
    if cur:
        money = (
            f", saved {s['money_saved']:.4f} {cur}; per 1,000 lookups "
            f"{s['cost_per_1k']:.4f} {cur} (without the cache "
            f"{s['cost_per_1k_without_cache']:.4f})"
        )
    return (
        f"{name:<16} {s['requests']:>8} lookups  {s['hits']:>8} hits  "
        f"{s['misses']:>8} misses  {s['errors']:>6} errors  "
        f"hit rate {s['hit_rate']:6.1%}  {s['audio_from_cache_s']:10.1f} s audio  "
        f"{s['compute_spent_s']:10.2f} s compute spent  "
        f"{s['compute_avoided_s']:10.2f} s avoided{money}"
    )


def run(args: argparse.Namespace) -> int:
    """Fetch and print the report; returns the exit code."""
    request = gateway_service_pb2.GetCacheReportRequest(
        window_s=args.window, voice=args.voice, max_top_sentences=args.top
    )
    with open_channel(args.server) as channel:
        stub = gateway_stub(channel)
        try:
            reply = stub.GetCacheReport(request, timeout=args.timeout)
        except grpc.RpcError as err:
            print(
                f"ttsctl cache-report: {err.code().name}: {err.details()}",
                file=sys.stderr,
            )
            return 1
    data = report_to_dict(reply)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    window = f"last {data['window_s']} s" if data["window_s"] else "all time"
    print(f"cache report ({window}; counting since {data['counting_since']})")
    print(_line("overall", data["overall"]))
    for voice, stats in data["per_voice"].items():
        print(_line(voice, stats))
    if data["top_sentences"]:
        print("top repeated sentences:")
    for t in data["top_sentences"]:
        preview = f"  {t['text_preview']}" if t["text_preview"] else ""
        print(
            f"  {t['key_hash'][:16]}  {t['voice']:<14} {t['requests']:>6} lookups "
            f"{t['hits']:>6} hits{preview}"
        )
    return 0


def _up_redis_url() -> str:
    from ttsctl import up_state

    state = up_state.read(up_state.state_path())
    return str(state.get("redis_url", "")) if state else ""


def run_purge(args: argparse.Namespace) -> int:
    """Delete the matching entries with SCAN; prints how many."""
    import asyncio

    from gateway.cache import CacheConfig, RedisPhraseCache

    if not (args.voice or args.revision or args.all):
        print("ttsctl cache-purge: give --voice, --revision or --all", file=sys.stderr)
        return 2
    if args.revision and len(args.revision) < 12:
        print(
            "ttsctl cache-purge: --revision needs 12+ hex characters", file=sys.stderr
        )
        return 2

    redis_url = args.redis or os.environ.get("REDIS_URL") or _up_redis_url()
    if not redis_url:
        print(
            "ttsctl cache-purge: give --redis (or REDIS_URL); no `ttsctl up` is running",
            file=sys.stderr,
        )
        return 2

    async def purge() -> int:
        cache = RedisPhraseCache(CacheConfig(redis_url=redis_url))
        try:
            return await cache.purge(voice=args.voice, revision=args.revision)
        finally:
            await cache.close()

    try:
        deleted = asyncio.run(purge())
    except Exception as exc:  # redis errors: report, do not trace back
        print(f"ttsctl cache-purge: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"deleted {deleted} cache entries")
    return 0
