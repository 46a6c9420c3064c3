"""The speaking-rate range every stage shares, and how an SSML rate combines with it."""

from __future__ import annotations

import struct
from typing import Final

from tts_common.errors import InvalidInput

__all__ = ["SPEED_RANGE", "check_speed", "combined_speed", "in_speed_range"]

SPEED_RANGE: Final[tuple[float, float]] = (0.5, 2.0)
"""Lowest and highest speaking-rate multiplier the acoustic model takes (1.0 =
natural). The gateway, the HTTP bridge and the acoustic stage all read it here."""


def in_speed_range(speed: float) -> bool:
    """True when ``speed`` lies within :data:`SPEED_RANGE` (NaN never does)."""
    return SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]


def check_speed(speed: float, hint: str = "") -> float:
    """``speed`` itself when in range.

    Args:
        speed: The multiplier to check.
        hint: Appended to the message (e.g. what 0 means in the caller's API).

    Raises:
        InvalidInput: Out of range or NaN; the message gives the range.
    """
    if not in_speed_range(speed):
        low, high = SPEED_RANGE
        raise InvalidInput(f"speed {speed} out of range; use {low} to {high}{hint}")
    return speed


def combined_speed(speed: float, rate: float, sentence: int | None = None) -> float:
    """The multiplier a sentence is spoken at: the request's ``speed`` times the
    sentence's SSML ``<prosody rate>``.

    The one rule: a product outside :data:`SPEED_RANGE` is **refused, never
    clamped**. Clamping would silently drop what the caller wrote (``speed`` 2.0 with
    ``rate="x-fast"`` would sound exactly like 2.0 alone), and the gateway already
    refuses an out-of-range request speed instead of clamping it. The gateway applies
    this rule to every sentence after the analysis and before the first one is
    synthesized, so a refusal costs no audio; the acoustic stage checks the same range
    as a last guard. Speeds travel as proto ``float``: the range is checked on the
    float32 value the acoustic stage will receive (so 1.6 x 1.25, which is
    2.00000003 in double precision, passes there and here alike), while the
    product itself is returned unrounded.

    Args:
        speed: The request's multiplier, already in range.
        rate: The SSML rate; 0 = not set (1.0). The frontend refuses non-positive
            rates, so any other value here is positive.
        sentence: 0-based index of the sentence, named in the message when given.

    Raises:
        InvalidInput: The product leaves the range; the message names both values
            and the range.
    """
    product = speed * (rate or 1.0)
    if not in_speed_range(_as_float32(product)):
        low, high = SPEED_RANGE
        where = "" if sentence is None else f" in sentence {sentence + 1}"
        raise InvalidInput(
            f"speed {speed:g} times SSML <prosody rate> {rate:g}{where} is "
            f"{product:g}, outside {low} to {high}; lower the speed or the rate"
        )
    return product


def _as_float32(value: float) -> float:
    """``value`` rounded as a proto ``float`` field stores it."""
    try:
        return float(struct.unpack("<f", struct.pack("<f", value))[0])
    except OverflowError:  # beyond float32: out of any range anyway
        return value
