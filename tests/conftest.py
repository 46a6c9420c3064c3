"""Suite-wide options: ``--fuzz-examples`` sizes the hypothesis fuzz tests and
``--fuzz-stack`` points them at the real multi-process stack."""

from __future__ import annotations

import pytest

DEFAULT_FUZZ_EXAMPLES = 120
"""Examples per fuzz test in CI (a few hundred in all, under a minute on 2 cores)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--fuzz-examples N``: examples per fuzz test, e.g. 10000 for a long run by
    hand (``pytest tests/service/test_gateway_fuzz.py --fuzz-examples 10000``)."""
    parser.addoption(
        "--fuzz-examples",
        type=int,
        default=DEFAULT_FUZZ_EXAMPLES,
        help=f"examples per hypothesis fuzz test (default {DEFAULT_FUZZ_EXAMPLES})",
    )
    parser.addoption(
        "--fuzz-stack",
        default=None,
        metavar="MODEL_DIR",
        help="fuzz the real multi-process stack on MODEL_DIR instead of the "
        "in-process one, failing if any process grows past 2x its memory",
    )


@pytest.fixture(scope="session")
def fuzz_examples(pytestconfig: pytest.Config) -> int:
    """The ``--fuzz-examples`` value."""
    return int(pytestconfig.getoption("--fuzz-examples"))
