"""``ttsctl``: the one command-line tool (benchmarks, model download, local stack...)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

_FRONTEND_DEV = Path(__file__).resolve().parents[1] / "tests/fixtures/frontend_dev"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ttsctl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="run a benchmark (by hand, not in CI)")
    bench_sub = bench.add_subparsers(dest="target", required=True)
    model = bench_sub.add_parser(
        "model", help="acoustic and vocoder real-time factors, full-size random weights"
    )
    model.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    model.add_argument("--repeats", type=int, default=5, help="timed runs (median)")
    model.add_argument(
        "--symbols-file",
        default=None,
        help="file with a symbol string (default: a 39-token sentence)",
    )
    model.add_argument(
        "--reference-wheel",
        default=None,
        help="a modelscope 1.3.x wheel: also time its KAN-TTS models on the "
        "same weights (pip download modelscope==1.3.2 --no-deps)",
    )
    model.add_argument(
        "--device", default="cpu", help="the vocoder's device: cpu, cuda, cuda:N"
    )
    model.add_argument(
        "--dtype",
        choices=("float32", "float16", "bfloat16"),
        default=None,
        help="the vocoder's precision (default: float16 on CUDA, else float32)",
    )
    model.add_argument(
        "--batch", type=int, default=1, help="also time N sentences in one pass"
    )
    model.add_argument(
        "--model-dir",
        default=None,
        help="write the random-weight model directory here and keep it "
        "(default: a temporary one)",
    )

    front = bench_sub.add_parser(
        "frontend", help="polyphone, TN and sandhi accuracy plus throughput"
    )
    front.add_argument(
        "--dev-dir",
        default=str(_FRONTEND_DEV),
        help="folder with cpp_dev.tsv, tn_dev.tsv, sandhi_dev.tsv "
        "(default: the copies in tests/fixtures/frontend_dev)",
    )

    analyze = sub.add_parser("frontend", help="print the frontend's analysis of a text")
    analyze.add_argument("text", help="text (or SSML starting with <speak>)")
    analyze.add_argument("--json", action="store_true", help="machine-readable output")
    analyze.add_argument("--emotion", default=None)
    analyze.add_argument("--speaker", default=None)

    from ttsctl import client, up

    client.add_arguments(sub)
    up.add_arguments(sub)
    from ttsctl import (
        bench_cache,
        bench_load,
        bench_overload,
        bench_paragraph,
        bench_speech,
        cache_report,
        capacity,
    )

    cache_report.add_arguments(sub)
    capacity.add_arguments(sub)
    for module in (
        bench_cache,
        bench_speech,
        bench_paragraph,
        bench_overload,
        bench_load,
    ):
        module.add_arguments(bench_sub)

    download = sub.add_parser(
        "download",
        help="fetch a ModelScope model directory (needs network + modelscope)",
    )
    download.add_argument(
        "model_id", help="e.g. damo/speech_sambert-hifigan_tts_zh-cn_16k"
    )
    download.add_argument("--to", required=True, help="target directory")
    download.add_argument(
        "--revision", default=None, help="model revision (tag or commit)"
    )
    return parser


_CLIENT_BENCHES = ("speech", "cache", "paragraph", "overload", "load")
"""Benches that call a running gateway; each is ``ttsctl.bench_<name>.run``."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "bench" and args.target == "model":
        from ttsctl.bench_model import run

        return run(args)
    if args.command == "bench" and args.target == "frontend":
        from ttsctl.frontend import run_bench

        return run_bench(args)
    if args.command == "frontend":
        from ttsctl.frontend import run_analyze

        return run_analyze(args)
    if args.command in ("say", "voices", "up"):
        from ttsctl import client, up

        runner = {"say": client.run_say, "voices": client.run_voices, "up": up.run_up}
        return runner[args.command](args)
    if args.command == "bench" and args.target in _CLIENT_BENCHES:
        module = importlib.import_module(f"ttsctl.bench_{args.target}")
        return int(module.run(args))
    if args.command in ("cache-report", "cache-purge"):
        from ttsctl import cache_report

        purge = args.command == "cache-purge"
        return (cache_report.run_purge if purge else cache_report.run)(args)
    if args.command == "capacity":
        from ttsctl.capacity import run as run_capacity

        return run_capacity(args)
    if args.command == "download":
        from ttsctl.download import run as run_download

        return run_download(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
