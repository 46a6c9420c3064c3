"""Step 3: teacher outputs -> one training dataset file (main venv).

For each sentence: map the teacher's per-token durations onto our KAN-TTS tokens
(:func:`training.mapping.assign_durations`; silence decided per 12.5 ms teacher frame
by loudness), cut the teacher's leading silence, resample 24 kHz -> 22,050 Hz with
soxr, compute the vocoder-convention mel (:mod:`training.audio`), and rescale the
durations to mel frames by cumulative rounding so that they sum exactly to the mel
length. Phone-level pitch/energy targets are the teacher's own normalised per-token
f0/energy predictions (a final's value for a final, a break token's for a break).

    .venv/bin/python -m training.align            # writes data/dataset.pt
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import soxr
import torch

from acoustic_svc.encoding import SymbolEncoder
from training.audio import HOP, SAMPLE_RATE, mel_spectrogram
from training.corpus import CorpusRow
from training.mapping import assign_durations, plan_teacher, to_mel_frames
from training.wav import write_pcm16

_LOGGER = logging.getLogger(__name__)
DATA = Path(__file__).resolve().parent / "data"
TEACHER_RATE, TEACHER_HOP = 24000, 300
SILENCE_DB = -45.0
"""A teacher frame quieter than this, relative to the utterance's loudest, is silence."""
SPEAKERS = ["F7"]


def voiced_frames(audio: np.ndarray) -> list[bool]:
    """Per 300-sample frame: louder than :data:`SILENCE_DB` below the loudest frame."""
    n = len(audio) // TEACHER_HOP
    frames = audio[: n * TEACHER_HOP].reshape(n, TEACHER_HOP).astype(np.float64)
    db = 10 * np.log10((frames**2).mean(axis=1) + 1e-16)
    voiced: list[bool] = (db > db.max() + SILENCE_DB).tolist()
    return voiced


def utterance(
    row: CorpusRow, npz: dict[str, np.ndarray], encoder: SymbolEncoder
) -> dict[str, np.ndarray]:
    """Model inputs and targets of one sentence."""
    plan = plan_teacher(row["symbols"], row["pinyin"])
    audio = npz["audio"].astype(np.float32) / 32768.0
    dur_t = npz["dur"].astype(int).tolist()
    if len(dur_t) != len(plan.phones) + 1:
        raise ValueError(f"{len(dur_t)} teacher durations for {len(plan.phones)} + eos")
    ours, start, end = assign_durations(plan, dur_t, voiced_frames(audio))
    seg = audio[start * TEACHER_HOP : end * TEACHER_HOP]
    wav = soxr.resample(seg, TEACHER_RATE, SAMPLE_RATE, quality="HQ").astype(np.float32)
    n_frames = round(len(seg) * SAMPLE_RATE / TEACHER_RATE / HOP)
    wav = np.pad(wav, (0, max(0, n_frames * HOP - len(wav))))[: n_frames * HOP]
    mel = mel_spectrogram(wav)
    dur = np.asarray(to_mel_frames(ours, n_frames), np.int32)
    # Per our token, the teacher token that carries its prosody: the first
    # non-pause teacher token it owns (a phone), else its pause token (a break).
    f0_t, en_t = npz["f0"], npz["energy"]
    src: dict[int, int] = {}
    for k, own in enumerate(plan.owner):
        if own >= 0 and (
            own not in src or (plan.is_pause[src[own]] and not plan.is_pause[k])
        ):
            src[own] = k
    idx = [src[j] for j in range(plan.n_ours)]
    ids = encoder.encode(row["symbols"])
    return {
        "ling": ids.ling,
        "emo": ids.emotion,
        "spk": ids.speaker,
        "dur": dur,
        "pitch": f0_t[idx].astype(np.float32),
        "energy": en_t[idx].astype(np.float32),
        "mel": mel,
        "wav": wav,
    }


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DATA / "corpus.jsonl")
    parser.add_argument("--teacher", type=Path, default=DATA / "teacher")
    parser.add_argument("--out", type=Path, default=DATA / "dataset.pt")
    parser.add_argument(
        "--wavs",
        type=int,
        default=0,
        help="also write this many 22 kHz training wavs to data/wav22",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    encoder = SymbolEncoder(SPEAKERS)
    rows = [
        json.loads(line)
        for line in args.corpus.read_text(encoding="utf-8").splitlines()
    ]
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("ling", "emo", "spk", "dur", "pitch", "energy", "mel")
    }
    kept: list[str] = []
    skipped = 0
    for row in rows:
        path = args.teacher / f"{row['id']}.npz"
        if not path.is_file():
            skipped += 1
            continue
        try:
            utt = utterance(row, dict(np.load(path)), encoder)
        except ValueError as exc:
            _LOGGER.warning("%s skipped: %s", row["id"], exc)
            skipped += 1
            continue
        if len(kept) < args.wavs:
            write_pcm16(DATA / "wav22" / f"{row['id']}.wav", utt["wav"], SAMPLE_RATE)
        for key in parts:
            parts[key].append(utt[key])
        kept.append(row["id"])
    tok_off = np.cumsum([0] + [len(x) for x in parts["dur"]])
    mel_off = np.cumsum([0] + [len(x) for x in parts["mel"]])
    data = {
        "ids": kept,
        "tok_off": torch.from_numpy(tok_off),
        "mel_off": torch.from_numpy(mel_off),
        "mel": torch.from_numpy(np.concatenate(parts["mel"])).half(),
    }
    for key in ("ling", "emo", "spk", "dur"):
        data[key] = torch.from_numpy(np.concatenate(parts[key]).astype(np.int64))
    for key in ("pitch", "energy"):
        data[key] = torch.from_numpy(np.concatenate(parts[key]))
    tmp = args.out.with_name(args.out.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(args.out)  # atomic: a running trainer may re-read this file any time
    frames = int(mel_off[-1])
    print(
        json.dumps(
            {
                "utterances": len(kept),
                "skipped": skipped,
                "tokens": int(tok_off[-1]),
                "frames": frames,
                "hours": round(frames * HOP / SAMPLE_RATE / 3600, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
