"""Custom pronunciation dictionaries: a deployment file and per-request mappings.

File format: UTF-8, one entry a line, ``word<TAB>pin1 yin1`` (tab or spaces between the
word and its syllables); ``#`` starts a comment line. One tone-number syllable (tone
1-5, ``v`` for ü) per Chinese character of the word.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path

from frontend_svc.words import is_han

_LOGGER = logging.getLogger(__name__)

_SYL_RE = re.compile(r"^[a-z]{1,6}[1-5]$")
MAX_ENTRIES = 100_000
"""Upper bound on entries, so a hostile per-request lexicon cannot eat memory."""


class Lexicon:
    """Word -> syllables, matched by forward maximum matching."""

    def __init__(self, entries: Mapping[str, list[str]]) -> None:
        self._entries = dict(entries)
        self._max_len = max((len(w) for w in self._entries), default=0)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str]) -> Lexicon:
        """Build from ``{word: "pin1 yin1"}``; raises ``ValueError`` naming a bad entry."""
        if len(mapping) > MAX_ENTRIES:
            raise ValueError(
                f"lexicon has {len(mapping)} entries; at most {MAX_ENTRIES}"
            )
        entries: dict[str, list[str]] = {}
        for word, pron in mapping.items():
            entries[word] = _parse_entry(word, pron)
        return cls(entries)

    @classmethod
    def from_file(cls, path: Path) -> Lexicon:
        """Read a deployment lexicon file; raises ``ValueError`` with the line number."""
        mapping: dict[str, list[str]] = {}
        text = path.read_text(encoding="utf-8")
        for lineno, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) != 2:
                raise ValueError(f"{path}:{lineno}: expected 'word<TAB>pin1 yin1'")
            try:
                mapping[parts[0]] = _parse_entry(parts[0], parts[1])
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from exc
        _LOGGER.info("loaded %d lexicon entries from %s", len(mapping), path)
        return cls(mapping)

    def words(self) -> list[str]:
        """All entry words."""
        return list(self._entries)

    def match(self, text: str) -> dict[int, str]:
        """Forced readings ``{char index: syllable}`` for every lexicon hit in ``text``."""
        forced: dict[int, str] = {}
        if not self._entries:
            return forced
        i, n = 0, len(text)
        while i < n:
            if not is_han(text[i]):
                i += 1
                continue
            for length in range(min(self._max_len, n - i), 0, -1):
                sylls = self._entries.get(text[i : i + length])
                if sylls is not None:
                    forced.update((i + k, s) for k, s in enumerate(sylls))
                    i += length
                    break
            else:
                i += 1
        return forced


def _parse_entry(word: object, pron: object) -> list[str]:
    if not isinstance(word, str) or not isinstance(pron, str):
        raise ValueError("lexicon words and readings must be strings")
    if not word or not all(is_han(ch) for ch in word) or len(word) > 32:
        raise ValueError(f"lexicon word {word[:32]!r} must be 1-32 Chinese characters")
    sylls = pron.lower().replace("ü", "v").replace("u:", "v").split()
    if len(sylls) != len(word) or not all(_SYL_RE.match(s) for s in sylls):
        raise ValueError(
            f"lexicon reading {pron[:60]!r} for {word!r} needs one tone-number "
            "syllable (e.g. hang2) per character"
        )
    return sylls
