"""``ttsctl frontend`` and ``ttsctl bench frontend``: the text frontend from a shell."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys


def run_analyze(args: argparse.Namespace) -> int:
    from frontend_svc import Frontend
    from tts_common.errors import TtsError

    text = args.text
    if text == "-":
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            print(f"error: stdin is not UTF-8 text ({exc.reason})", file=sys.stderr)
            return 2
    try:
        sentences = Frontend().analyze(text, emotion=args.emotion, speaker=args.speaker)
    except TtsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                [dataclasses.asdict(s) for s in sentences], ensure_ascii=False, indent=2
            )
        )
        return 0
    for i, sentence in enumerate(sentences):
        print(f"[{i}] {sentence.text}")
        print(f"    {' '.join(sentence.pinyin)}")
        print(f"    {sentence.symbols}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from frontend_svc.bench import run_benchmark

    result = run_benchmark(args.dev_dir)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
