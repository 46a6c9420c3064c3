"""Sentence, word, phone and mark timings from the acoustic stage's durations.

The acoustic model fixes how many mel frames each symbol lasts before it decodes
(``MelHeader.symbol_frames``, after speed); the vocoder makes ``hop_length`` samples
per frame. So a symbol's span in a sentence's audio is known exactly, in seconds,
and stays so after resampling (the output rate changes, not the times). The
frontend says which symbols make each word and where each ``<mark>`` stands; the
:class:`TimingClock` adds where each sentence starts in the whole output (earlier
sentences and their breaks). The durations are cached with the audio, so cached
sentences have timings too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sambert_tts_protos.v1 import frontend_service_pb2
from sambert_tts_protos.v1 import gateway_service_pb2 as gw
from tts_common.symbols import BREAKS

__all__ = ["SymbolDurations", "TimingClock", "sentence_timings"]

_Sentence = frontend_service_pb2.AnalyzedSentence
_SILENT = frozenset(BREAKS)
"""Symbols that are not phones: prosodic breaks (their frames, if any, are pause)."""


@dataclass(frozen=True)
class SymbolDurations:
    """How long each symbol of a sentence lasts in its audio."""

    frames: tuple[int, ...]
    """Mel frames per symbol, in symbol order."""
    hop_length: int
    """PCM samples per frame at the model rate."""

    @classmethod
    def of(cls, frames: Sequence[int], hop_length: int) -> SymbolDurations | None:
        """The durations, or None when the stage or cache entry had none."""
        if not frames or hop_length <= 0:
            return None
        return cls(tuple(int(n) for n in frames), int(hop_length))


def sentence_timings(
    sentence: _Sentence,
    durations: SymbolDurations,
    start_sample: int,
    num_samples: int,
    rate_hz: int,
) -> gw.SentenceTimings:
    """The sentence's timings, in seconds from the start of the output.

    Args:
        sentence: The analysed sentence (symbols, words, marks).
        durations: Frames per symbol; must match the sentence's symbol count.
        start_sample: Where the sentence's audio starts in the output, in samples
            at ``rate_hz`` (the model rate).
        num_samples: Samples of the sentence's audio, its trailing break excluded;
            symbol ends are clipped to it.
        rate_hz: The model's sample rate.
    """
    symbols = sentence.symbols.split()
    known = len(symbols) == len(durations.frames)
    bounds = [0]
    if known:
        for n in durations.frames:
            bounds.append(min(bounds[-1] + n * durations.hop_length, num_samples))
    bounds.append(num_samples)  # the last symbol ends with the audio

    def at(i: int) -> float:
        return (start_sample + bounds[i]) / rate_hz

    out = gw.SentenceTimings(
        sentence=gw.Timing(
            text=sentence.normalized_text, start_s=at(0), end_s=at(len(bounds) - 1)
        )
    )
    if not known:  # symbols and durations disagree: the sentence span only
        return out
    bounds.pop(-2)  # the appended end replaces the last symbol's own
    for i, symbol in enumerate(symbols):
        phone = _phone(symbol)
        if phone not in _SILENT:
            out.phones.add(text=phone, start_s=at(i), end_s=at(i + 1))
    for word in sentence.words:
        first, count = word.first_symbol, word.num_symbols
        if count and first + count <= len(symbols):
            out.words.add(text=word.text, start_s=at(first), end_s=at(first + count))
    for mark in sentence.marks:
        t = at(min(mark.symbol_index, len(symbols)))
        out.marks.add(text=mark.name, start_s=t, end_s=t)
    return out


def _phone(symbol: str) -> str:
    """The phone field of a ``{phone$tone$...}`` token."""
    return symbol.strip("{}").split("$", 1)[0]


class TimingClock:
    """Follows a request's pieces in output order and times each sentence."""

    def __init__(self, rate_hz: int) -> None:
        self._rate = rate_hz
        self._offset = 0
        """Model-rate samples before the current sentence."""
        self._in_sentence = 0
        """Samples of the current sentence so far."""

    def advance(
        self,
        samples: int,
        info: gw.SentenceInfo | None,
        sentence: _Sentence | None = None,
        durations: SymbolDurations | None = None,
    ) -> None:
        """Count a piece of ``samples`` (model rate). A sentence's last piece is
        its trailing break and carries ``info``: the sentence's timings are then
        written into ``info``, when ``sentence`` and ``durations`` are known."""
        if info is not None and sentence is not None and durations is not None:
            spoken = self._in_sentence
            info.timings.CopyFrom(
                sentence_timings(sentence, durations, self._offset, spoken, self._rate)
            )
        self._in_sentence += samples
        if info is not None:
            self._offset += self._in_sentence
            self._in_sentence = 0
