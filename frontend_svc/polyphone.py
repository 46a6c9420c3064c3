"""Polyphone disambiguation with g2pM's BiLSTM weights, run by our own numpy code.

The model and its CC-CEDICT digest come from the ``g2pM`` PyPI package (Apache-2.0,
Park & Lee, Interspeech 2020), which was trained on the CPP corpus. We only read its
shipped pickles; the inference is re-done here because the package's own ``__call__``
takes the argmax over all 876 classes (it can answer a reading the character does not
have), gives no confidence, and works in float64. Here the softmax is restricted to the
character's own readings and the winning probability is returned, so the caller can
let a dictionary phrase overrule a hesitant model.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_LOGGER = logging.getLogger(__name__)

_BOS = "시"  # g2pM's sentence-begin symbol (its authors' choice, kept as-is)
_EOS = "끝"
_UNK = "<UNK>"


@dataclass(frozen=True)
class Guess:
    """The model's reading for one polyphonic character."""

    pinyin: str
    """Tone-number pinyin, ``v`` for ü, e.g. ``le5``."""
    prob: float
    """Softmax probability among the character's own readings (0..1)."""
    probs: tuple[tuple[str, float], ...] = ()
    """Every reading of the character with its probability (the reranker's input)."""


def _load(name: str, folder: Path) -> object:
    with open(folder / name, "rb") as fh:
        return pickle.load(fh)


class PolyphoneModel:
    """g2pM's one-layer BiLSTM + 2-layer MLP, float32, candidate-restricted."""

    def __init__(self) -> None:
        import g2pM  # deferred: only the Frontend constructor pays for it

        folder = Path(g2pM.__file__).parent
        cedict = _load("digest_cedict.pkl", folder)
        self._char2idx: dict[str, int] = _load("char2idx.pkl", folder)  # type: ignore[assignment]
        class2idx: dict[str, int] = _load("class2idx.pkl", folder)  # type: ignore[assignment]
        state = _load("np_ckpt.pkl", folder)
        assert isinstance(cedict, dict) and isinstance(state, dict)
        self._w = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}
        # Only characters with more than one reading go to the network.
        self._cands: dict[str, tuple[list[int], list[str]]] = {}
        for char, prons in cedict.items():
            usable = [p for p in prons if p in class2idx]
            if len(usable) > 1:
                self._cands[char] = (
                    [class2idx[p] for p in usable],
                    [p.replace("u:", "v") for p in usable],
                )
        _LOGGER.debug("polyphone model: %d polyphonic characters", len(self._cands))

    def is_polyphone(self, char: str) -> bool:
        """Whether the model has more than one reading for ``char``."""
        return char in self._cands

    def _lstm(self, emb: np.ndarray, suffix: str) -> np.ndarray:
        """Run one direction over a padded batch ``emb: [B, T, D]`` -> ``[B, T, H]``."""
        w = self._w
        w_hh = w[f"lstm.weight_hh_l0{suffix}"].T
        hidden = w_hh.shape[0]
        # Input projections for all steps at once; only the recurrence is a loop.
        x_proj = (
            emb @ w[f"lstm.weight_ih_l0{suffix}"].T
            + w[f"lstm.bias_ih_l0{suffix}"]
            + w[f"lstm.bias_hh_l0{suffix}"]
        )
        batch, steps = emb.shape[0], emb.shape[1]
        # float32 throughout at run time; numpy's stubs type the float-literal gate
        # arithmetic below as float64, so the state is declared dtype-generic.
        h: np.ndarray = np.zeros((batch, hidden), np.float32)
        c: np.ndarray = np.zeros((batch, hidden), np.float32)
        out = np.empty((batch, steps, hidden), np.float32)
        for t in range(steps):
            g = x_proj[:, t] + h @ w_hh
            i_f = 1.0 / (1.0 + np.exp(-g[:, : 2 * hidden]))
            o = 1.0 / (1.0 + np.exp(-g[:, 3 * hidden :]))
            cell = np.tanh(g[:, 2 * hidden : 3 * hidden])
            c = i_f[:, hidden:] * c + i_f[:, :hidden] * cell
            h = o * np.tanh(c)
            out[:, t] = h
        return out

    def predict(self, sentence: str) -> dict[int, Guess]:
        """Readings for every polyphonic character of ``sentence``, by index."""
        return self.predict_batch([sentence])[0]

    def predict_batch(self, sentences: list[str]) -> list[dict[int, Guess]]:
        """:meth:`predict` for several sentences at once (one padded LSTM pass)."""
        results: list[dict[int, Guess]] = [{} for _ in sentences]
        todo = [
            i for i, s in enumerate(sentences) if any(ch in self._cands for ch in s)
        ]
        if not todo:
            return results
        unk, pad = self._char2idx[_UNK], 0
        seqs = [
            [self._char2idx[_BOS]]
            + [self._char2idx.get(ch, unk) for ch in sentences[i]]
            + [self._char2idx[_EOS]]
            for i in todo
        ]
        steps = max(len(s) for s in seqs)
        fwd_ids = np.full((len(seqs), steps), pad, np.int64)
        bwd_ids = np.full((len(seqs), steps), pad, np.int64)
        for row, seq in enumerate(seqs):
            fwd_ids[row, : len(seq)] = seq
            bwd_ids[row, : len(seq)] = seq[::-1]  # padding stays at the end
        emb = self._w["embedding.weight"]
        fwd = self._lstm(emb[fwd_ids], "")
        bwd = self._lstm(emb[bwd_ids], "_reverse")
        for row, i in enumerate(todo):
            results[i] = self._classify(
                sentences[i], fwd[row], bwd[row], len(seqs[row])
            )
        return results

    def _classify(
        self, sentence: str, fwd: np.ndarray, bwd: np.ndarray, length: int
    ) -> dict[int, Guess]:
        targets = [i for i, ch in enumerate(sentence) if ch in self._cands]
        # Position t+1 of the forward pass is character t; the backward pass ran on
        # the reversed sequence, so character t sits at length-2-t there.
        pos = np.asarray(targets) + 1
        states = np.concatenate([fwd[pos], bwd[length - 1 - pos]], axis=1)
        hid = np.maximum(
            states @ self._w["logit_layer.0.weight"].T + self._w["logit_layer.0.bias"],
            0.0,
        )
        logits = hid @ self._w["logit_layer.2.weight"].T + self._w["logit_layer.2.bias"]
        result: dict[int, Guess] = {}
        for row, idx in zip(logits, targets, strict=True):
            class_ids, names = self._cands[sentence[idx]]
            scores = row[class_ids]
            probs = np.exp(scores - scores.max())
            probs /= probs.sum()
            best = int(np.argmax(probs))
            result[idx] = Guess(
                names[best],
                float(probs[best]),
                tuple(zip(names, probs.tolist(), strict=True)),
            )
        return result
