"""Train the polyphone reranker (``frontend_svc/polyphone_rerank.json.gz``) on CPP data.

Data: kakaobrain/g2pM ``data/{dev,test}.{sent,lb}`` (Apache-2.0) in ``training/data/cpp/``
(git-ignored; copy them there from a checkout of that repository). The CPP *train*
sentences (``train.sent``, 8 MB) could not be obtained here, so the reranker is trained on
the **dev** split (minus the 130 dev items whose sentence also occurs in the test split),
tuned by 5-fold cross-validation inside dev, and the **test** split is kept untouched
for the held-out figure (``tests/fixtures/frontend_dev/cpp_heldout.tsv`` is a
hash-chosen 3,000-item subset of it).

Steps (each caches its output under ``training/data/cpp/``, so reruns resume):
    .venv/bin/python -m training.polyphone extract   # g2pM + jieba + pypinyin per item
    .venv/bin/python -m training.polyphone cv        # 5-fold CV on dev (tuning)
    .venv/bin/python -m training.polyphone train     # fit on all dev, write the model
    .venv/bin/python -m training.polyphone test      # the held-out test figure
    .venv/bin/python -m training.polyphone fixture   # write cpp_heldout.tsv
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from frontend_svc.polyphone_rerank import (
    MODEL_PATH,
    Context,
    phrase_votes,
    reading_features,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "training" / "data" / "cpp"
FIXTURE = ROOT / "tests" / "fixtures" / "frontend_dev"
_MARK = "\u2581"
_CITATION = {"不": "bu4", "一": "yi1"}
Record = dict[str, Any]
"""One CPP item with the frontend's features, as ``extract`` caches it."""


def read_split(name: str) -> list[tuple[str, int, str]]:
    """(sentence, char index, gold pinyin) for every item of a CPP split."""
    sents = (DATA / f"{name}.sent").read_text(encoding="utf-8").splitlines()
    labels = (DATA / f"{name}.lb").read_text(encoding="utf-8").splitlines()
    items = []
    for raw, gold in zip(sents, labels, strict=True):
        idx = raw.index(_MARK)
        sentence = raw.replace(_MARK, "")
        items.append((sentence, idx, gold.strip().replace("u:", "v")))
    return items


def extract(name: str) -> list[Record]:
    """Per item: the reranker's inputs, the gold and today's frontend answer."""
    path = DATA / f"{name}.feats.jsonl"
    if path.exists():
        return [json.loads(line) for line in path.open(encoding="utf-8")]
    from frontend_svc.g2p import G2P

    g2p = G2P()
    out = []
    items = read_split(name)
    for n, (sentence, idx, gold) in enumerate(items):
        words = [w.text for w in g2p.segment(sentence)]
        guesses = g2p._predict_chunked(sentence)  # noqa: SLF001
        starts = [sum(len(w) for w in words[:n]) for n in range(len(words))]
        wi = max(n for n, st in enumerate(starts) if st <= idx)
        start = starts[wi]
        word = words[wi]
        off = idx - start
        dict_reading = g2p.dictionary_reading(word)[off]
        dict_reading = _CITATION.get(sentence[idx], dict_reading)
        guess = guesses.get(idx)
        annotated = g2p.annotate(sentence)
        pos = 0
        current = None
        for aw in annotated:
            if pos <= idx < pos + len(aw.text) and aw.kind == "han":
                current = aw.syllables[idx - pos]
            pos += len(aw.text)
        out.append(
            {
                "sentence": sentence,
                "index": idx,
                "gold": gold,
                "words": words,
                "word_index": wi,
                "offset": off,
                "dictionary": dict_reading,
                "in_phrases": len(word) > 1 and word in g2p._phrases,  # noqa: SLF001
                "probs": list(guess.probs) if guess is not None else [],
                "current": current,
            }
        )
        if n % 1000 == 0:
            print(f"{name}: {n}/{len(items)}", file=sys.stderr, flush=True)
    with path.open("w", encoding="utf-8") as fh:
        for rec in out:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return out


_VOTES: dict[tuple[str, int], dict[str, int]] = {}


def _votes(sentence: str, index: int) -> dict[str, int]:
    key = (sentence, index)
    if key not in _VOTES:
        from pypinyin.constants import PHRASES_DICT
        from pypinyin.contrib.tone_convert import to_tone3

        _VOTES[key] = phrase_votes(sentence, index, PHRASES_DICT, to_tone3)
    return _VOTES[key]


def _ctx(rec: Record) -> Context:
    return Context(
        rec["sentence"],
        rec["index"],
        rec["words"],
        rec["word_index"],
        rec["offset"],
        rec["dictionary"],
        rec["in_phrases"],
        [tuple(p) for p in rec["probs"]],
        _votes(rec["sentence"], rec["index"]),
    )


def _examples(recs: list[Record]) -> list[tuple[list[dict[str, float]], int]]:
    """Trainable items: those whose gold is one of g2pM's readings (and >1 reading)."""
    out = []
    for rec in recs:
        readings = [r for r, _ in rec["probs"]]
        if len(readings) < 2 or rec["gold"] not in readings:
            continue
        ctx = _ctx(rec)
        feats = [reading_features(ctx, r, p) for r, p in ctx.probs]
        out.append((feats, readings.index(rec["gold"])))
    return out


def fit(
    recs: list[Record], epochs: int, l2: float, lr: float, seed: int = 0
) -> dict[str, float]:
    """Multinomial logistic regression over each item's readings (AdaGrad, L2)."""
    examples = _examples(recs)
    w: dict[str, float] = defaultdict(float)
    g2: dict[str, float] = defaultdict(lambda: 1e-8)
    rng = random.Random(seed)
    w["lp"] = 1.0  # start from g2pM's own decision
    for _ in range(epochs):
        rng.shuffle(examples)
        for feats, gold in examples:
            scores = [sum(w.get(k, 0.0) * v for k, v in f.items()) for f in feats]
            top = max(scores)
            exps = [math.exp(s - top) for s in scores]
            z = sum(exps)
            grad: dict[str, float] = defaultdict(float)
            for j, f in enumerate(feats):
                p = exps[j] / z - (1.0 if j == gold else 0.0)
                if p == 0.0:
                    continue
                for k, v in f.items():
                    grad[k] += p * v
            for k, g in grad.items():
                g += l2 * w.get(k, 0.0)
                g2[k] += g * g
                w[k] -= lr * g / math.sqrt(g2[k])
    return {k: v for k, v in w.items() if abs(v) > 1e-4}


def predict(w: dict[str, float], rec: Record) -> str:
    """The reranker's reading (today's answer when g2pM has no reading list)."""
    if len(rec["probs"]) < 2:
        return str(rec["current"])
    ctx = _ctx(rec)
    best, best_s = rec["current"], -1e30
    for r, p in ctx.probs:
        s = sum(w.get(k, 0.0) * v for k, v in reading_features(ctx, r, p).items())
        if s > best_s:
            best, best_s = r, s
    return str(best)


def _accuracy(w: dict[str, float] | None, recs: list[Record]) -> float:
    hit = 0
    for rec in recs:
        got = rec["current"] if w is None else predict(w, rec)
        hit += got == rec["gold"]
    return hit / len(recs)


CER_LIST = ROOT.parent / "shared" / "frontend_dev" / "cer_dev.txt"
"""Intelligibility sentences taken from CPP dev: kept out of the training data."""


def train_records() -> list[Record]:
    """Dev items whose sentence is neither in the test split nor in ``CER_LIST``."""
    excluded = {s for s, _, _ in read_split("test")}
    if CER_LIST.is_file():
        excluded |= set(CER_LIST.read_text(encoding="utf-8").split())
    return [r for r in extract("dev") if r["sentence"] not in excluded]


def _fold(rec: Record) -> int:
    key = f"{rec['sentence']}:{rec['index']}".encode()
    return int(hashlib.sha1(key).hexdigest()[:8], 16) % 5


HYPER: dict[str, Any] = {"epochs": 3, "l2": 0.03, "lr": 0.05}
"""Chosen by ``cv`` (5-fold cross-validation on dev)."""


def cmd_cv(args: argparse.Namespace) -> None:
    recs = train_records()
    grid = [
        {"epochs": e, "l2": l2, "lr": lr}
        for e in args.epochs
        for l2 in args.l2
        for lr in args.lr
    ]
    print(f"dev items: {len(recs)}; today's frontend: {_accuracy(None, recs):.4f}")
    for hp in grid:
        hits = 0
        for k in range(5):
            tr = [r for r in recs if _fold(r) != k]
            te = [r for r in recs if _fold(r) == k]
            w = fit(tr, **hp)
            hits += sum(predict(w, r) == r["gold"] for r in te)
        print(f"{hp}: cv accuracy {hits / len(recs):.4f}", flush=True)


def cmd_train(_args: argparse.Namespace) -> None:
    recs = train_records()
    w = fit(recs, **HYPER)
    payload = {
        "about": "polyphone reranker weights; python -m training.polyphone train",
        "trained_on": "CPP dev split minus items whose sentence is in the test split",
        "items": len(recs),
        "hyper": HYPER,
        "weights": {k: round(v, 4) for k, v in sorted(w.items())},
    }
    with gzip.GzipFile(MODEL_PATH, "wb", mtime=0) as fh:
        fh.write(
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        )
    print(f"{len(w)} weights -> {MODEL_PATH} ({MODEL_PATH.stat().st_size} bytes)")
    print(f"dev (training data) accuracy: {_accuracy(w, recs):.4f}")


def cmd_test(_args: argparse.Namespace) -> None:
    with gzip.open(MODEL_PATH, "rt", encoding="utf-8") as fh:
        w = json.load(fh)["weights"]
    recs = extract("test")
    print(f"test items: {len(recs)}")
    print(f"today's frontend: {_accuracy(None, recs):.4f}")
    print(f"with the reranker: {_accuracy(w, recs):.4f}")


def heldout_items() -> list[tuple[str, int, str]]:
    """3,000 test items, ordered by sha1("cpptest:"+sentence+":"+index)."""
    items = read_split("test")

    def key(item: tuple[str, int, str]) -> str:
        return hashlib.sha1(f"cpptest:{item[0]}:{item[1]}".encode()).hexdigest()

    return sorted(items, key=key)[:3000]


def cmd_fixture(_args: argparse.Namespace) -> None:
    path = FIXTURE / "cpp_heldout.tsv"
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("sentence\tchar_index\tchar\tgold_pinyin\n")
        for sentence, idx, gold in heldout_items():
            fh.write(f"{sentence}\t{idx}\t{sentence[idx]}\t{gold}\n")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("extract").set_defaults(
        func=lambda a: [extract(n) for n in ("dev", "test")]
    )
    cv = sub.add_parser("cv")
    cv.add_argument("--epochs", type=int, nargs="+", default=[HYPER["epochs"]])
    cv.add_argument("--l2", type=float, nargs="+", default=[HYPER["l2"]])
    cv.add_argument("--lr", type=float, nargs="+", default=[HYPER["lr"]])
    cv.set_defaults(func=cmd_cv)
    sub.add_parser("train").set_defaults(func=cmd_train)
    sub.add_parser("test").set_defaults(func=cmd_test)
    sub.add_parser("fixture").set_defaults(func=cmd_fixture)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
