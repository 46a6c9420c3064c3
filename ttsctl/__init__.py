"""``ttsctl``: the one command-line tool (benchmarks, model download, local stack...)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

_FRONTEND_DEV = Path(__file__).resolve().parents[1] / "tests/fixtures/frontend_dev"


class _Version(argparse.Action):
    """``--version``: the installed package's version (read only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version")

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        from tts_common.metrics import DISTRIBUTION, package_version

        print(f"ttsctl {package_version()} ({DISTRIBUTION})")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ttsctl", description=__doc__)
    parser.add_argument("--version", action=_Version)
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
    analyze.add_argument(
        "text", help="text (or SSML starting with <speak>); - reads it from stdin"
    )
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
        bench_textstream,
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
        bench_textstream,
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


_CLIENT_BENCHES = ("speech", "cache", "paragraph", "overload", "load", "textstream")
"""Benches that call a running gateway; each is ``ttsctl.bench_<name>.run``."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code.

    What a user did, not a bug, ends with one line on stderr and no traceback: a
    failed gateway call (its status and message, exit 1), Ctrl-C (130), and a reader
    that went away (``ttsctl frontend ... | head -1``: quiet, 141 as a tool stopped
    by SIGPIPE).
    """
    args = _parser().parse_args(argv)
    try:
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        # Later writes (the interpreter's own flush at exit) go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("ttsctl: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        grpc = sys.modules.get("grpc")  # imported by every command that calls one
        if grpc is None or not isinstance(exc, grpc.RpcError):
            raise
        from ttsctl.connect import rpc_error_line

        print(f"ttsctl {args.command}: {rpc_error_line(exc)}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
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
