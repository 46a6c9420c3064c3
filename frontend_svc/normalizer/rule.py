"""The shape every normalizer rule has: a pattern and what to say for a match."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["NA", "NB", "Rule"]

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
"""Applied with ``pattern.sub(fn, text)``, in the order of the rule lists."""

NB = r"(?<![\d.])"
"""Not preceded by a digit or a decimal point: a number starts here."""
NA = r"(?![\d])"
"""Not followed by a digit: a number ends here."""
