"""Step 6: synthesise the CER dev sentences with a voice dir and score them.

Library-level path (frontend -> acoustic -> vocoder, the service's own loaders);
writes ``<out>/dev_XX.wav`` and ``<out>/pairs.tsv`` for ``asr_cer.py --list``, and
prints simple cleanliness checks (peak level, longest internal silence).

    .venv/bin/python -m training.evaluate --voice voices/demo --out training/runs/eval
    training/.venv-asr/bin/python ../shared/tools/asr_cer.py --list training/runs/eval/pairs.tsv
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from training import DEV_SENTENCES
from training.wav import write_pcm16
from tts_common.audio import longest_inner_silence_s as longest_silence_s

_LOGGER = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


def synthesise(voice: Path, out: Path, sentences: list[str]) -> dict[str, float]:
    """Write one wav per sentence plus pairs.tsv; returns summary statistics."""
    from acoustic_svc import load_acoustic_model
    from frontend_svc import Frontend
    from vocoder_svc import load_vocoder

    frontend, am, voc = Frontend(), load_acoustic_model(voice), load_vocoder(voice)
    out.mkdir(parents=True, exist_ok=True)
    pairs, peaks, silences, audio_s = [], [], [], 0.0
    t0 = time.time()
    for i, text in enumerate(sentences):
        pieces = []
        for sent in frontend.analyze(text):
            pieces.append(voc.wave(am.mel(sent.symbols)))
        wav = np.concatenate(pieces)
        path = out / f"dev_{i:02d}.wav"
        write_pcm16(path, wav, voc.sample_rate)
        pairs.append(f"{path}\t{text}")
        peaks.append(float(np.abs(wav).max()))
        silences.append(longest_silence_s(wav, voc.sample_rate))
        audio_s += len(wav) / voc.sample_rate
    (out / "pairs.tsv").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    return {
        "sentences": len(sentences),
        "audio_s": round(audio_s, 1),
        "rtf": round((time.time() - t0) / audio_s, 3),
        "max_peak": round(max(peaks), 3),
        "clipped": sum(p >= 0.999 for p in peaks),
        "longest_silence_s": round(max(silences), 2),
    }


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voice", type=Path, default=ROOT / "voices" / "demo")
    parser.add_argument("--out", type=Path, default=ROOT / "training" / "runs" / "eval")
    parser.add_argument("--dev", type=Path, default=DEV_SENTENCES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sentences = [
        s.strip()
        for s in args.dev.read_text(encoding="utf-8").splitlines()
        if s.strip()
    ]
    print(json.dumps(synthesise(args.voice, args.out, sentences)))


if __name__ == "__main__":
    main()
