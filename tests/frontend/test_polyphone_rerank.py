"""The polyphone reranker: its features, the committed weights, and its accuracy on
the CPP subsets (dev: trained on; held-out test: never tuned on)."""

from __future__ import annotations

import pytest
from pypinyin.constants import PHRASES_DICT
from pypinyin.contrib.tone_convert import to_tone3

from frontend_svc.bench import polyphone_accuracy
from frontend_svc.polyphone_rerank import (
    MODEL_PATH,
    Context,
    Reranker,
    phrase_votes,
    reading_features,
)
from tests.frontend.conftest import FRONTEND_DEV

# Measured with the committed weights (training/polyphone.py's docstring and the
# fixture README); the tests fail if a change makes the frontend worse than this.
DEV_SUBSET_ACCURACY = 0.979  # cpp_dev.tsv: part of the reranker's training data
HELDOUT_ACCURACY = 0.975  # cpp_heldout.tsv: CPP test items, never tuned on


def _ctx(probs: list[tuple[str, float]], dictionary: str) -> Context:
    return Context("他是校长", 3, ["他", "是", "校长"], 2, 1, dictionary, True, probs)


def test_phrase_votes_cover_every_window() -> None:
    votes = phrase_votes("英国首相访问", 3, PHRASES_DICT, to_tone3)
    assert votes == {"xiang4": 2}  # 首相, although jieba may keep 英国首相 whole
    assert phrase_votes("他", 0, PHRASES_DICT, to_tone3) == {}


def test_features_mark_the_dictionary_reading() -> None:
    ctx = _ctx([("zhang3", 0.9), ("chang2", 0.1)], "zhang3")
    agree = reading_features(ctx, "zhang3", 0.9)
    other = reading_features(ctx, "chang2", 0.1)
    assert agree["dict"] == 1.0 and agree["phr"] == 1.0
    assert other["dict"] == 0.0 and other["lp"] < agree["lp"]


def test_committed_weights_load_and_follow_a_confident_model() -> None:
    reranker = Reranker.load()
    assert MODEL_PATH.stat().st_size < 1_000_000
    assert reranker.choose(_ctx([("zhang3", 0.999), ("chang2", 0.001)], "zhang3")) == (
        "zhang3"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "floor"),
    [("cpp_dev.tsv", DEV_SUBSET_ACCURACY), ("cpp_heldout.tsv", HELDOUT_ACCURACY)],
)
def test_accuracy_on_the_cpp_subsets(fe, name: str, floor: float) -> None:
    result = polyphone_accuracy(fe, FRONTEND_DEV, name)
    assert result["items"] == 3000
    assert result["accuracy"] >= floor
