"""Suite-wide options: ``--fuzz-examples`` sizes the hypothesis fuzz tests and
``--fuzz-stack`` points them at the real multi-process stack."""

from __future__ import annotations

import os

import pytest

# Idle OpenMP threads sleep instead of spinning, as the services run them
# (tts_common/stack.py): a spinning pool makes torch tests many times slower on a
# loaded 2-core machine. Set before any test module imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
