"""A Redis timeout that follows how long answers take here, now.

A fixed 0.1 s budget turned load into misses: with the gateway's event loop busy,
answers that Redis gave in microseconds were read after the budget, counted as
errors, and the sentences sent to the already overloaded models. So the budget
adapts as TCP's retransmission timer does (RFC 6298): a smoothed latency plus
four times its mean deviation, never below the configured floor (what an idle
host needs) nor above a ceiling (how long a lookup may cost before synthesis is
the better bet). A dead Redis still fails fast: the breaker in
:class:`~gateway.cache.redis_cache.RedisPhraseCache` counts the timeouts.
"""

from __future__ import annotations

__all__ = ["AdaptiveTimeout"]

_GAIN = 1 / 8
"""Weight of a new sample in the smoothed latency (RFC 6298's alpha)."""
_DEV_GAIN = 1 / 4
"""Weight of a new sample in the mean deviation (RFC 6298's beta)."""
_DEVIATIONS = 4


class AdaptiveTimeout:
    """The timeout for the next Redis call, learnt from the calls that answered."""

    def __init__(self, floor_s: float, ceiling_s: float) -> None:
        """Start at ``floor_s``; never go past ``ceiling_s``.

        Raises:
            ValueError: ``floor_s <= 0`` or ``ceiling_s < floor_s``.
        """
        if floor_s <= 0 or ceiling_s < floor_s:
            raise ValueError("need 0 < floor_s <= ceiling_s")
        self.floor_s, self.ceiling_s = floor_s, ceiling_s
        self._smoothed: float | None = None
        self._deviation = 0.0

    @property
    def seconds(self) -> float:
        """The current budget of one call."""
        if self._smoothed is None:
            return self.floor_s
        budget = self._smoothed + _DEVIATIONS * self._deviation
        return min(self.ceiling_s, max(self.floor_s, budget))

    def observe(self, latency_s: float) -> None:
        """Fold in the latency of a call that answered in time."""
        if self._smoothed is None:
            self._smoothed, self._deviation = latency_s, latency_s / 2
            return
        error = latency_s - self._smoothed
        self._deviation += _DEV_GAIN * (abs(error) - self._deviation)
        self._smoothed += _GAIN * error

    def timed_out(self) -> None:
        """A call ran out of budget: the next gets twice as long, up to the
        ceiling (a slow moment is let through; a dead Redis trips the breaker)."""
        current = self.seconds
        self._smoothed = min(self.ceiling_s, 2 * current)
        self._deviation = 0.0
