"""Rate limits per channel: DingTalk and WeCom robots take 20 messages a minute."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from tasks.delivery.channels import channel_schema

__all__ = ["DEFAULT_RATE_LIMITS", "RateLimit", "RateLimiter"]


@dataclass(frozen=True)
class RateLimit:
    """At most ``messages`` sends in any ``per_seconds`` window."""

    messages: int
    per_seconds: float


DEFAULT_RATE_LIMITS: Mapping[str, RateLimit] = {
    "dingtalk": RateLimit(20, 60.0),
    "wecombot": RateLimit(20, 60.0),
    "feishu": RateLimit(100, 60.0),
}


def _rate_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{channel_schema(url)}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
    except ValueError:
        return url


class RateLimiter:
    """Per-channel rate limits (keyed by schema, host and path; kept in memory only).

    A token bucket whose every token comes back exactly ``per_seconds`` after it
    was spent: so never more than ``messages`` sends in any window of that
    length (a DingTalk robot that gets a 21st message within a minute is
    muted for ten minutes, so a plain refilling bucket's double burst won't do).
    ``monotonic`` and ``sleep`` are injectable so tests need not wait.

    Thread-safe: sends to one channel take its tokens one at a time (a thread waiting
    for a channel's token holds that channel only).
    """

    def __init__(
        self,
        limits: Mapping[str, RateLimit] = DEFAULT_RATE_LIMITS,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self.monotonic = monotonic
        self.sleep = sleep
        self._spent: dict[str, deque[float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def limited_key(self, url: str) -> str | None:
        """The key `url`'s sends are counted under, or None when it has no limit."""
        if channel_schema(url) not in self.limits:
            return None
        return _rate_key(url)

    def acquire(self, url: str) -> float:
        """Wait (through ``sleep``) until `url` may be sent to; returns the seconds waited."""
        limit = self.limits.get(channel_schema(url))
        if limit is None:
            return 0.0
        key = _rate_key(url)
        with self._lock:
            spent = self._spent.setdefault(key, deque())
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return self._take(spent, limit)

    def _take(self, spent: deque[float], limit: RateLimit) -> float:
        waited = 0.0
        while True:
            now = self.monotonic()
            while spent and now - spent[0] >= limit.per_seconds:
                spent.popleft()
            if len(spent) < limit.messages:
                spent.append(now)
                return waited
            delay = spent[0] + limit.per_seconds - now
            self.sleep(delay)
            waited += delay
