"""The price table that turns compute seconds avoided into money saved."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from tts_common.config import ConfigError

__all__ = ["Price", "load_price"]


@dataclass(frozen=True)
class Price:
    """The price of one compute hour of the tier that runs synthesis."""

    per_hour: float = 0.0
    """Price of one hour of the tier (GPU-hour or CPU-hour)."""
    currency: str = ""
    """ISO 4217 code, e.g. ``"USD"``; empty without a table."""
    tier: str = ""
    """Tier name from the table."""

    def saved(self, compute_s: float) -> float:
        """Money that ``compute_s`` seconds of avoided synthesis save."""
        return compute_s / 3600.0 * self.per_hour


def load_price(path: str | None, tier: str = "") -> Price:
    """Read ``tier`` (or the table's default ``tier``) from a YAML or JSON table.

    Raises:
        ConfigError: The file is unreadable, or the tier or its price is missing;
            the message names GATEWAY_PRICE_TABLE / GATEWAY_PRICE_TIER.
    """
    if not path:
        return Price()
    try:
        text = Path(path).read_text(encoding="utf-8")
        table = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
        name = tier or str(table["tier"])
        row = table["tiers"][name]
        return Price(float(row["price_per_hour"]), str(table["currency"]), name)
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"GATEWAY_PRICE_TABLE {path!r} / GATEWAY_PRICE_TIER {tier!r}: "
            f"need currency, tier and tiers.<tier>.price_per_hour ({exc!r})"
        ) from exc
