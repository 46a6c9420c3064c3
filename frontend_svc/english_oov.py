"""English words the CMU dictionary lacks (Airbnb, Spotify): a letter-to-phone model.

The model is g2p_en's (``g2p-en`` wheel, Apache-2.0): a GRU encoder-decoder trained
on CMUdict, weights in the wheel's ``checkpoint20.npz``. Only that file is read, with
the recurrence written here in numpy: importing the package would make NLTK fetch
tagger data over the network. Greedy decoding, one word at a time.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from tts_common.errors import ModelLoadError

__all__ = ["LetterToPhone"]

_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW",
           "OY", "UH", "UW")  # fmt: skip
_PHONES = sorted(
    [*_VOWELS, "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG",
     "P", "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH"]
)  # fmt: skip


def _output_symbols() -> list[str]:
    """The decoder's symbols in the checkpoint's order: 4 specials, then the phones
    alphabetically, vowels with stress 0-2 (and, as trained, a bare ``UW`` first)."""
    out = ["<pad>", "<unk>", "<s>", "</s>"]
    for phone in _PHONES:
        if phone in _VOWELS:
            out += (["UW"] if phone == "UW" else []) + [phone + s for s in "012"]
        else:
            out.append(phone)
    return out


_LETTER_IDS = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz", start=3)}
"""Encoder inputs: 0 <pad>, 1 <unk>, 2 </s>, then the letters."""
_SYMBOLS = _output_symbols()
_START, _END, _MAX_PHONES = 2, 3, 20


class LetterToPhone:
    """``word -> ARPAbet phones with stress digits`` for lower-case words."""

    def __init__(self) -> None:
        spec = importlib.util.find_spec("g2p_en")  # finds; does not import
        if spec is None or not spec.submodule_search_locations:
            raise ModelLoadError("the g2p-en package is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "checkpoint20.npz"
        try:
            with np.load(path) as weights:
                self._w = {k: weights[k].astype(np.float32) for k in weights.files}
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot read {path}: {exc}") from exc
        if self._w["fc_w"].shape[0] != len(_SYMBOLS):
            raise ModelLoadError(f"{path}: unexpected output layer, not g2p-en 2.1")

    def __call__(self, word: str) -> list[str]:
        """Phones of ``word`` (letters a-z; others count as unknown), ``UW`` as
        ``UW0``; empty when the model gives nothing usable."""
        w = self._w
        ids = [_LETTER_IDS.get(c, 1) for c in word.lower()] + [2]
        h = np.zeros(w["enc_w_hh"].shape[1], np.float32)
        for x in w["enc_emb"][ids]:
            h = self._gru(x, h, "enc")
        phones: list[str] = []
        symbol = _START
        for _ in range(_MAX_PHONES):
            h = self._gru(w["dec_emb"][symbol], h, "dec")
            symbol = int(np.argmax(w["fc_w"] @ h + w["fc_b"]))
            if symbol == _END:
                break
            if symbol > _END:
                phones.append(_SYMBOLS[symbol])
        return ["UW0" if p == "UW" else p for p in phones]

    def _gru(self, x: np.ndarray, h: np.ndarray, side: str) -> np.ndarray:
        """One GRU step (PyTorch's gate order r, z, n)."""
        w = self._w
        gi = w[f"{side}_w_ih"] @ x + w[f"{side}_b_ih"]
        gh = w[f"{side}_w_hh"] @ h + w[f"{side}_b_hh"]
        size = h.shape[0]
        r = _sigmoid(gi[:size] + gh[:size])
        z = _sigmoid(gi[size : 2 * size] + gh[size : 2 * size])
        n = np.tanh(gi[2 * size :] + r * gh[2 * size :])
        out: np.ndarray = (1.0 - z) * n + z * h
        return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out
