"""SSML attribute values: prosody rate, volume and pitch, break times, emphasis.

Every bad value raises :class:`InvalidInput` with the value and what to write instead.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import NamedTuple

from tts_common.errors import InvalidInput

__all__ = [
    "EMPHASIS",
    "MAX_BREAK_MS",
    "MAX_PITCH_SEMITONES",
    "PITCH_NAMES",
    "RATES",
    "VOLUMES",
    "Emphasis",
    "break_ms",
    "emphasis",
    "factor",
    "pitch_semitones",
]

RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25,
         "x-fast": 1.5}  # fmt: skip
VOLUMES = {"silent": 0.0, "x-soft": 0.25, "soft": 0.5, "medium": 1.0, "default": 1.0,
           "loud": 1.5, "x-loud": 2.0}  # fmt: skip
PITCH_NAMES = {"x-low": -6.0, "low": -3.0, "medium": 0.0, "default": 0.0, "high": 3.0,
               "x-high": 6.0}  # fmt: skip
"""Named pitches, semitones from the voice's own pitch (absolute, like named rates)."""
MAX_PITCH_SEMITONES = 12.0
"""Largest pitch change one ``pitch`` attribute may ask for, either way."""
_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 250, "medium": 500, "strong": 750,
                "x-strong": 1000}  # fmt: skip
_TIME_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")
_PITCH_RE = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)\s*(st|%|hz)$", re.IGNORECASE)
MAX_BREAK_MS = 10_000


class Emphasis(NamedTuple):
    """What an ``<emphasis level>`` does: an energy shift (standard deviations of
    the voice's normalised energy) and a speaking-rate factor (below 1 = slower)."""

    energy_shift: float
    rate: float


EMPHASIS = {
    "strong": Emphasis(0.6, 0.85),
    "moderate": Emphasis(0.3, 0.92),
    "reduced": Emphasis(-0.3, 1.05),
    "none": Emphasis(0.0, 1.0),
}
"""``<emphasis level>`` values; ``moderate`` is the default, as in SSML 1.1."""


def factor(value: str | None, names: dict[str, float], what: str, base: float) -> float:
    """The multiplier ``value`` gives relative to ``base`` (names, %, dB or a number).

    Not clamped: a rate the stages cannot speak is refused by the gateway with the
    combined value in the message (one rule for every source of speed), and the
    volume is capped where it is applied.
    """
    if value is None:
        return base
    value = value.strip()
    if value in names:
        return names[value]
    try:
        if value.endswith("%"):
            result = base * float(value[:-1]) / 100.0
        elif value.endswith("dB"):
            result = base * 10 ** (float(value[:-2]) / 20.0)
        else:
            result = base * float(value)
    except (ValueError, OverflowError):
        raise InvalidInput(f"bad prosody {what}={value[:20]!r}") from None
    if not math.isfinite(result):
        raise InvalidInput(f"prosody {what}={value[:20]!r} is not a finite number")
    return result


def pitch_semitones(value: str | None, base: float) -> float:
    """The pitch shift after ``<prosody pitch=value>`` inside a shift of ``base``.

    Semitones (``+2st``, ``-3st``) and signed percentages of the frequency
    (``+10%`` = 12*log2(1.1) st) add to ``base``; names (``x-low`` ... ``x-high``,
    ``default``) set the shift as :data:`PITCH_NAMES` says. Hz values are refused:
    the voice's own pitch is not known here, so no Hz value can become a shift.
    One value may move the pitch at most :data:`MAX_PITCH_SEMITONES` either way; the
    gateway checks the sum with the request's own shift.
    """
    if value is None:
        return base
    raw = value.strip()
    shown = raw[:20]
    if raw in PITCH_NAMES:
        return PITCH_NAMES[raw]
    match = _PITCH_RE.match(raw)
    if not match:
        raise InvalidInput(
            f'bad prosody pitch={shown!r}; use semitones ("+2st", "-3st"), a '
            f'signed percentage ("+10%") or one of {", ".join(PITCH_NAMES)}'
        )
    sign, number, unit = match[1], float(match[2]), match[3].lower()
    if unit == "hz":
        raise InvalidInput(
            f"prosody pitch={shown!r}: values in Hz are not supported (the voice's "
            'base pitch is not known); use semitones ("+2st") or a signed '
            'percentage ("+10%")'
        )
    change = -number if sign == "-" else number
    if unit == "%":
        if not sign:
            raise InvalidInput(
                f"prosody pitch={shown!r}: write a percentage as a signed change, "
                'e.g. "+10%" or "-10%"'
            )
        if change <= -100:
            raise InvalidInput(
                f"prosody pitch={shown!r} would remove the pitch; use a change "
                'above -100%, e.g. "-20%"'
            )
        change = 12 * math.log2(1 + change / 100)
    if not (math.isfinite(change) and abs(change) <= MAX_PITCH_SEMITONES):
        raise InvalidInput(
            f"prosody pitch={shown!r} is out of range; a pitch change takes at most "
            f'{MAX_PITCH_SEMITONES:g} semitones either way ("+12st", about "+100%")'
        )
    return base + change


def emphasis(el: ET.Element) -> str:
    """The ``level`` of an ``<emphasis>`` element (``moderate`` when absent)."""
    level = el.get("level", "moderate").strip()
    if level not in EMPHASIS:
        raise InvalidInput(
            f"bad emphasis level={level[:20]!r}; use one of {', '.join(EMPHASIS)}"
        )
    return level


def break_ms(el: ET.Element) -> int:
    """The silence a ``<break>`` asks for, milliseconds (at most MAX_BREAK_MS)."""
    time_attr = el.get("time")
    if time_attr is None:
        strength = el.get("strength", "medium")
        if strength not in _STRENGTH_MS:
            raise InvalidInput(f"bad break strength={strength[:20]!r}")
        return _STRENGTH_MS[strength]
    match = _TIME_RE.match(time_attr)
    if not match:
        raise InvalidInput(f"bad break time={time_attr[:20]!r}; use e.g. 500ms or 1s")
    scale = 1 if match[2] == "ms" else 1000
    return min(int(float(match[1]) * scale), MAX_BREAK_MS)
