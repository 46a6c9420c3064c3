"""Recipe that trains the bundled demo voice (see training/README.md)."""

from pathlib import Path

DEV_SENTENCES = (
    Path(__file__).resolve().parents[2] / "shared" / "frontend_dev" / "cer_dev.txt"
)
"""The CER dev list (kept out of the training corpus); tests and scoring read it."""
EVAL_SENTENCES = DEV_SENTENCES.with_name("everyday.txt")
"""The everyday list the voice is judged on (SER, DNSMOS): kept out of the corpus."""
