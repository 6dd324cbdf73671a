"""The one retry policy: how often, how long apart and for how long a thing is retried.

Used by delivery (`tasks.delivery.sending`: each channel's tries in a round) and meant
for the platform client (`tasks.platform` keeps its own copy of the same policy until
it is switched over). A caller owns its loop; the policy answers the three questions
the loop asks after a failed attempt:

- `RetryPolicy.may_retry`: are attempts left (``max_attempts``, first one included)?
- `RetryPolicy.delay`: how long to wait first. Backoff before attempt n+1 is
  ``min(max_delay, base_delay × multiplier^(n-1))``, drawn uniformly from
  ``[0, that]`` with ``jitter`` ("full jitter"); a server's ``Retry-After`` (see
  `retry_after_seconds`) replaces it, capped at ``max_retry_after``.
- `RetryPolicy.within_budget`: would the wait end within ``total_budget`` seconds of
  the first attempt? (A wait that would end past it is not started.)

The random source and the clock belong to the caller (injectable in tests).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RetryPolicy", "retry_after_seconds"]

_RNG = random.Random()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard something is retried (defaults: the platform client's policy).

    ``total_budget`` may be ``math.inf`` (no budget).
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    total_budget: float = 300.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after, self.total_budget) < 0:
            raise ValueError("delays and budget must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def ceiling(self, attempt: int) -> float:
        """The longest backoff after the ``attempt``-th failed attempt (1-based)."""
        try:
            grown = self.base_delay * self.multiplier ** max(0, attempt - 1)
        except OverflowError:
            return self.max_delay
        return min(self.max_delay, grown)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay after the ``attempt``-th failed attempt (1-based): the ceiling, or
        uniform in ``[0, ceiling]`` with ``jitter`` (drawn from ``rng``)."""
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        return (rng or _RNG).uniform(0.0, ceiling)

    def delay(
        self, attempt: int, rng: random.Random | None = None, *, retry_after: float | None = None
    ) -> float:
        """The wait after the ``attempt``-th failed attempt: the server's ``retry_after``
        (seconds, capped at ``max_retry_after``) when it sent one, else `backoff`."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.backoff(attempt, rng)

    def may_retry(self, attempts: int) -> bool:
        """Whether another attempt may follow ``attempts`` made so far."""
        return attempts < self.max_attempts

    def within_budget(self, elapsed: float, delay: float) -> bool:
        """Whether a wait of ``delay`` seconds, ``elapsed`` seconds after the first
        attempt started, ends within the budget."""
        return math.isinf(self.total_budget) or elapsed + delay <= self.total_budget


def retry_after_seconds(
    value: str | None, *, wall_clock: Callable[[], float] = time.time
) -> float | None:
    """An HTTP ``Retry-After`` header as seconds (delta-seconds, or an HTTP-date);
    None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - wall_clock()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
