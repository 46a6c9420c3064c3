"""Rebuild the TN case pool of ``frontend_dev/tn_dev.tsv`` and its held-out half.

The recipe is the one ``shared/frontend_dev/README.md`` gives (tn_dev section):
pool the test cases of three public suites at fixed commits, de-duplicate on
(input, expected), and split by ``int(sha1(input)[:8], 16) % 2``; value 1 is the
development half (``tn_dev.tsv``), value 0 the held-out half (``tn_heldout.tsv``).

It reads local git mirrors (no network at run time)::

    python -m training.tn_heldout \
        --wetext /work/.mirror/wenet-e2e+WeTextProcessing/repo \
        --nemo /work/.mirror/NVIDIA+NeMo-text-processing/repo \
        --paddle /work/.mirror/PaddlePaddle+PaddleSpeech/repo \
        --check tests/fixtures/frontend_dev/tn_dev.tsv \
        --out tests/fixtures/frontend_dev/tn_heldout.tsv

``--check`` proves the recipe: the rebuilt value-1 half must equal the published
file byte for byte, or nothing is written. The held-out rows are never printed;
only their counts per source are.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

WETEXT = ("wenet-e2e/WeTextProcessing", "039007e6b819bd40c4c4a0644f3939da1da47e44")
NEMO = ("NVIDIA/NeMo-text-processing", "1f1263579fe57ba7ed783cad3dddee710fcc5064")
PADDLE = ("PaddlePaddle/PaddleSpeech", "969f33999fd6116a69831d098c1ab6f1e125129a")
WETEXT_DIR = "tn/chinese/test/data/"
WETEXT_SKIP = {"normalizer_tag_oov.txt", "postprocessor.txt"}
NEMO_DIR = "tests/nemo_text_processing/zh/data_text_normalization/"
PADDLE_FILE = "examples/other/tn/data/textnorm_test_cases.txt"
PADDLE_BAD = {("25m", "米")}  # wrong gold upstream, dropped (README)
HEADER = "category\tinput\texpected_output\tsource\tflags\n"
_INTERJECTIONS = "呃啊嗯哦噢唉哎"

Case = tuple[str, str, str, str]  # category, input, expected, source


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "--git-dir", str(repo), *args], check=True, capture_output=True
    )
    return out.stdout.decode("utf-8")


def _files(repo: Path, commit: str, folder: str) -> list[str]:
    return sorted(_git(repo, "ls-tree", "--name-only", commit, folder).split())


def _source(name: tuple[str, str], path: str) -> str:
    return f"{name[0]}:{path}@{name[1][:10]}"


def load_cases(wetext: Path, nemo: Path, paddle: Path) -> list[Case]:
    """Every case of the three suites, in file order (WeText, NeMo, Paddle)."""
    cases: list[Case] = []
    for path in _files(wetext, WETEXT[1], WETEXT_DIR):
        if Path(path).name in WETEXT_SKIP or not path.endswith(".txt"):
            continue
        for line in _git(wetext, "show", f"{WETEXT[1]}:{path}").splitlines():
            if "=>" not in line:
                continue
            written, spoken = line.split("=>", 1)
            cases.append(
                (
                    Path(path).stem,
                    written.strip(),
                    spoken.strip(),
                    _source(WETEXT, path),
                )
            )
    for path in _files(nemo, NEMO[1], NEMO_DIR):
        name = Path(path).name
        if not (name.startswith("test_cases_") and name.endswith(".txt")):
            continue
        seen: set[str] = set()
        for line in _git(nemo, "show", f"{NEMO[1]}:{path}").splitlines():
            line = line.rstrip("\r")
            if "~" not in line or line in seen:
                continue
            seen.add(line)
            written, spoken = line.split("~", 1)
            category = Path(path).stem.removeprefix("test_cases_")
            cases.append(
                (category, written.strip(), spoken.strip(), _source(NEMO, path))
            )
    for line in _git(paddle, "show", f"{PADDLE[1]}:{PADDLE_FILE}").splitlines():
        if "|" not in line:
            continue
        raw, normalized = (p.strip() for p in line.split("|", 1))
        if (raw, normalized) in PADDLE_BAD:
            continue
        cases.append(("sentence", raw, normalized, _source(PADDLE, PADDLE_FILE)))
    return cases


def _flags(written: str, spoken: str, conflict: bool) -> str:
    flags = []
    if spoken == "":
        flags.append("empty_output")
    if "儿" in written and written.count("儿") > spoken.count("儿"):
        flags.append("erhua_removed")
    if any(written.count(c) > spoken.count(c) for c in _INTERJECTIONS):
        flags.append("interjection_removed")
    if any(written.count(c) > spoken.count(c) for c in "，。！？：；、"):
        flags.append("punct_to_ascii")
    if conflict:
        flags.append("conflict")
    return ",".join(flags) or "-"


def pool(cases: list[Case]) -> list[tuple[str, str, str, str, str]]:
    """De-duplicate on (input, expected), merging sources; add the flags."""
    merged: dict[tuple[str, str], list[str]] = {}
    category: dict[tuple[str, str], str] = {}
    for cat, written, spoken, source in cases:
        key = (written, spoken)
        if key not in merged:
            merged[key], category[key] = [], cat
        if source not in merged[key]:
            merged[key].append(source)
    outputs: dict[str, set[str]] = {}
    for written, spoken in merged:
        outputs.setdefault(written, set()).add(spoken)
    return [
        (
            category[k],
            k[0],
            k[1],
            ";".join(src),
            _flags(k[0], k[1], len(outputs[k[0]]) > 1),
        )
        for k, src in merged.items()
    ]


def half(text: str) -> int:
    """The README's split: 1 = development half, 0 = held out."""
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % 2


def render(rows: list[tuple[str, str, str, str, str]]) -> str:
    return HEADER + "".join("\t".join(r) + "\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wetext", type=Path, required=True)
    ap.add_argument("--nemo", type=Path, required=True)
    ap.add_argument("--paddle", type=Path, required=True)
    ap.add_argument("--check", type=Path, required=True, help="published tn_dev.tsv")
    ap.add_argument("--out", type=Path, required=True, help="held-out TSV to write")
    args = ap.parse_args(argv)
    rows = pool(load_cases(args.wetext, args.nemo, args.paddle))
    dev = [r for r in rows if half(r[1]) == 1]
    held = [r for r in rows if half(r[1]) == 0]
    print(f"pooled {len(rows)} unique cases: dev {len(dev)}, held-out {len(held)}")
    published = args.check.read_text(encoding="utf-8")
    if render(dev) != published:
        want = set(published.splitlines()[1:])
        got = set(render(dev).splitlines()[1:])
        print(
            f"MISMATCH with {args.check}: {len(want - got)} missing, {len(got - want)} extra"
        )
        for line in sorted(want ^ got)[:20]:  # dev rows only: safe to show
            print(("-" if line in want else "+") + line)
        return 1
    print(f"value-1 half == {args.check} (byte for byte)")
    args.out.write_text(render(held), encoding="utf-8")
    by_source: dict[str, int] = {}
    for r in held:
        for s in {s.split(":", 1)[0] for s in r[3].split(";")}:
            by_source[s] = by_source.get(s, 0) + 1
    print(f"wrote {args.out}: {len(held)} rows {by_source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
