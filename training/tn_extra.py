"""Build an extra TN tuning pool that cannot leak the held-out half.

``tn_dev.tsv`` has ~300 rows, too few to tune rules that generalise. This pools
more written -> spoken pairs from the same three public projects, none of which
belong to the held-out recipe (``training/tn_heldout.py``):

* the inverse-normalization suites of WeTextProcessing and NeMo (spoken -> written),
  read backwards;
* the TN suites of WeTextProcessing and NeMo at every earlier commit that touched
  them (rows since edited or dropped upstream).

Any pair whose written side equals an input of ``tn_heldout.tsv`` or ``tn_dev.tsv``
is dropped by comparing hashes, so no held-out row is read into the pool or printed.
Backward ITN rows show a reading, not always the reading a TTS wants (ITN accepts
several spoken forms for one written form): use the pool to find bugs, not as gold.

    python -m training.tn_extra \
        --wetext /work/.mirror/wenet-e2e+WeTextProcessing/repo \
        --nemo /work/.mirror/NVIDIA+NeMo-text-processing/repo \
        --out training/data/tn_extra.tsv
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from training.tn_heldout import NEMO, NEMO_DIR, WETEXT, WETEXT_DIR, WETEXT_SKIP, _git

_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "frontend_dev"
WETEXT_ITN_DIR = "itn/chinese/test/data/"
NEMO_ITN_DIR = "tests/nemo_text_processing/zh/data_inverse_text_normalization/"
HEADER = "category\tinput\texpected_output\tsource\n"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _known_inputs() -> set[str]:
    """Hashes of every tn_dev/tn_heldout input (the rows themselves are not kept)."""
    out: set[str] = set()
    for name in ("tn_dev.tsv", "tn_heldout.tsv"):
        for line in (_FIXTURES / name).read_text(encoding="utf-8").split("\n")[1:]:
            if line:
                out.add(_digest(line.split("\t")[1].strip()))
    return out


def _pairs(text: str, sep: str, backwards: bool) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        if sep not in line:
            continue
        left, right = (p.strip() for p in line.split(sep, 1))
        out.append((right, left) if backwards else (left, right))
    return out


def _commits(repo: Path, head: str, folder: str) -> list[str]:
    return _git(repo, "log", "--format=%H", head, "--", folder).split()


def load(wetext: Path, nemo: Path) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for repo, (name, head), folder, sep, backwards in (
        (wetext, WETEXT, WETEXT_ITN_DIR, "=>", True),
        (nemo, NEMO, NEMO_ITN_DIR, "~", True),
        (wetext, WETEXT, WETEXT_DIR, "=>", False),
        (nemo, NEMO, NEMO_DIR, "~", False),
    ):
        commits = [head] if backwards else _commits(repo, head, folder)
        for commit in commits:
            listing = _git(repo, "ls-tree", "--name-only", commit, folder).split()
            for path in listing:
                stem = Path(path).name
                if not stem.endswith(".txt") or stem in WETEXT_SKIP:
                    continue
                if "english" in path or ("normalizer_" in stem and backwards):
                    continue
                text = _git(repo, "show", f"{commit}:{path}")
                kind = "itn" if backwards else "tn"
                for written, spoken in _pairs(text, sep, backwards):
                    category = Path(path).stem.removeprefix("test_cases_")
                    rows.append(
                        (category, written, spoken, f"{name}:{kind}@{commit[:10]}")
                    )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wetext", type=Path, required=True)
    ap.add_argument("--nemo", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    known = _known_inputs()
    seen: set[tuple[str, str]] = set()
    kept, dropped = [], 0
    for cat, written, spoken, source in load(args.wetext, args.nemo):
        if _digest(written) in known:
            dropped += 1
            continue
        if (written, spoken) in seen or not written or not spoken:
            continue
        seen.add((written, spoken))
        kept.append((cat, written, spoken, source))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    body = "".join("\t".join(r) + "\n" for r in kept)
    args.out.write_text(HEADER + body, encoding="utf-8")
    print(f"wrote {args.out}: {len(kept)} rows; {dropped} dropped as dev/held-out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
