"""The training dataset written by ``training.align``: one file, padded batches."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from training.forward import Batch
from tts_common.symbols import EMOTIONS

__all__ = ["Dataset"]

R = 3  # decoder frames per step: batches are padded to a multiple of it
FRAME_BUCKET, TOKEN_BUCKET = 48, 8
"""Batches are padded to multiples of these, so few distinct tensor shapes occur: on
CPU, oneDNN builds kernels per shape and a new shape every step was measured to
cost several times the step itself."""


class Dataset:
    """All utterances in memory (a few thousand: a few hundred MB at most)."""

    neutral_id = EMOTIONS.index("emotion_neutral")

    def __init__(self, path: Path) -> None:
        data = torch.load(path, map_location="cpu", weights_only=True)
        self.ids: list[str] = list(data["ids"])
        self.tok_off: list[int] = data["tok_off"].tolist()
        self.mel_off: list[int] = data["mel_off"].tolist()
        self.d = data

    def __len__(self) -> int:
        return len(self.ids)

    def n_frames(self, i: int) -> int:
        return self.mel_off[i + 1] - self.mel_off[i]

    def batches(self, batch_size: int, seed: int) -> list[list[int]]:
        """Deterministic for a seed: length-sorted (with jitter) then shuffled batches,
        so little padding is computed and every epoch differs."""
        rng = random.Random(seed)
        order = sorted(
            range(len(self)), key=lambda i: self.n_frames(i) * rng.uniform(0.9, 1.1)
        )
        groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        rng.shuffle(groups)
        return groups

    def collate(self, indices: list[int]) -> Batch:
        """Pad the utterances into one :class:`Batch`."""
        d = self.d
        toks = [slice(self.tok_off[i], self.tok_off[i + 1]) for i in indices]
        mels = [slice(self.mel_off[i], self.mel_off[i + 1]) for i in indices]
        n_tok = torch.tensor([s.stop - s.start for s in toks])
        n_frm = torch.tensor([s.stop - s.start for s in mels])
        t_max = -(-int(n_tok.max()) // TOKEN_BUCKET) * TOKEN_BUCKET
        f_max = -(-int(n_frm.max()) // FRAME_BUCKET) * FRAME_BUCKET
        b = len(indices)
        ling = torch.zeros(b, t_max, 4, dtype=torch.long)
        emo, spk, dur = (torch.zeros(b, t_max, dtype=torch.long) for _ in range(3))
        pitch, energy = torch.zeros(b, t_max), torch.zeros(b, t_max)
        mel = torch.zeros(b, f_max, d["mel"].shape[1])
        for k, (ts, ms) in enumerate(zip(toks, mels, strict=True)):
            n = ts.stop - ts.start
            ling[k, :n], emo[k, :n], spk[k, :n] = (
                d["ling"][ts],
                d["emo"][ts],
                d["spk"][ts],
            )
            dur[k, :n], pitch[k, :n], energy[k, :n] = (
                d["dur"][ts],
                d["pitch"][ts],
                d["energy"][ts],
            )
            mel[k, : ms.stop - ms.start] = d["mel"][ms].float()
        return Batch(ling, emo, spk, dur, pitch, energy, mel, n_tok, n_frm)
