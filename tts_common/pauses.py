"""Pauses between sentences: the frontend adds them, and the gateway's text-in
streaming adds the same ones between sentences it synthesizes separately."""

from __future__ import annotations

__all__ = ["SENTENCE_PAUSE_MS", "SPLIT_PAUSE_MS"]

SENTENCE_PAUSE_MS = 400
"""Silence added after a sentence that another follows. On the bundled voice a
sentence ends with about 0.15 s of silence while a comma pause (``#3``) is about
0.26 s (10 ms frames 45 dB under the peak), so without it paragraphs run
together; with it the sentence gap is about 0.55 s, within the 0.5-0.7 s of read
Mandarin and about twice a comma pause (tests/training/test_demo_voice.py)."""
SPLIT_PAUSE_MS = 60
"""Silence added where an over-long sentence was cut at a clause break: the
sentence-final silence plus this is about the comma pause it replaces."""
