"""Sending one message over its channels: each channel tried, each try recorded.

`send_message` delivers a message to each of its channels (Apprise URLs), tries a
channel up to `DeliveryPolicy.retry`'s ``max_attempts`` times with its backoff in
between (`tasks.retry`, the one retry policy), and returns every try as a
`DeliveryAttempt` (channel redacted, error scrubbed of secrets). Nothing is written
to the database here: a delivery run (`tasks.delivery.outbox`) hands in its
`Checkpoints` to commit each answer as it comes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from models.messages import AttemptOutcome
from models.persistence.tables import DeliveryAttempt
from tasks.delivery.channels import body_format_for, channel_secrets, redact_channel, scrub
from tasks.delivery.lease import DEFAULT_LEASE, LEASE_MARGIN
from tasks.delivery.log_guard import LogGuard, guarded_logs
from tasks.delivery.rate_limits import RateLimiter
from tasks.delivery.robots import NotifierFactory, make_notifier
from tasks.retry import RetryPolicy

__all__ = [
    "CHANNEL_RETRY",
    "DEFAULT_POLICY",
    "ChannelResult",
    "Checkpoints",
    "DeliveryPolicy",
    "SendResult",
    "Sendable",
    "send_guarded",
    "send_message",
]

log = logging.getLogger(__name__)


CHANNEL_RETRY = RetryPolicy(
    max_attempts=3,
    base_delay=2.0,
    multiplier=4.0,
    max_delay=8.0,
    jitter=False,
    total_budget=math.inf,
)
"""Each channel's tries in one round: 3 tries, 2 s before the 2nd and 8 s before the 3rd
(and any later) one; no jitter, no budget (the lease bounds a round)."""


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard a message is pushed.

    ``retry`` says how often each channel is tried in one round and how long apart
    (`tasks.retry.RetryPolicy`: ``max_attempts`` tries, backoff in between, a total
    budget per message); a failed message is retried in a later round no earlier
    than ``retry_after`` after its last attempt (and only inside the send window);
    after ``unreachable_after_rounds`` failed rounds on every channel (counted as
    ``rounds × tries`` failed attempts per channel) the message is given up and
    the office alerted.
    """

    retry: RetryPolicy = CHANNEL_RETRY
    retry_after: timedelta = timedelta(hours=1)
    unreachable_after_rounds: int = 2
    lease: timedelta = DEFAULT_LEASE
    """How long a delivery run holds a message it claimed (see `tasks.delivery.lease`)."""

    def __post_init__(self) -> None:
        if self.unreachable_after_rounds < 1:
            raise ValueError("unreachable_after_rounds must be at least 1")
        if self.lease <= 2 * LEASE_MARGIN:
            raise ValueError(f"lease must be longer than {2 * LEASE_MARGIN}")

    @property
    def tries(self) -> int:
        """Tries per channel in one round."""
        return self.retry.max_attempts

    def delay_before(self, try_number: int) -> float:
        """Seconds to sleep before try ``try_number`` (2, 3...)."""
        return self.retry.backoff(try_number - 1)

    @property
    def unreachable_after_attempts(self) -> int:
        return self.tries * self.unreachable_after_rounds


DEFAULT_POLICY = DeliveryPolicy()


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    """Redacted."""
    delivered: bool
    tries: int
    error: str
    """Scrubbed; empty when delivered."""
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class SendResult:
    """The attempts of one `send_message` call (not yet added to a session)."""

    attempts: tuple[DeliveryAttempt, ...]
    channels: tuple[ChannelResult, ...]

    @property
    def delivered_all(self) -> bool:
        return all(c.delivered for c in self.channels)

    @property
    def delivered_any(self) -> bool:
        return any(c.delivered for c in self.channels)

    @property
    def first_delivered_at(self) -> datetime | None:
        times = [c.delivered_at for c in self.channels if c.delivered_at is not None]
        return min(times) if times else None


class Sendable(Protocol):
    """What `send_message` reads of a message: a saved `Message`, or its `OutgoingMessage`."""

    @property
    def id(self) -> int | None: ...
    @property
    def subject(self) -> str: ...
    @property
    def body_markdown(self) -> str: ...
    @property
    def body_text(self) -> str: ...
    @property
    def body_html(self) -> str: ...


def _body_for(message: Sendable, body_format: str) -> str:
    if body_format == "markdown":
        return message.body_markdown
    if body_format == "html":
        return message.body_html
    return message.body_text


def _try_channel(
    message: Sendable,
    url: str,
    notifier_factory: NotifierFactory,
    secrets: Sequence[str],
    guard: LogGuard,
) -> str | None:
    """One try on one channel: None when accepted, else the (scrubbed) reason."""
    body_format = body_format_for(url)
    with guard.trying(secrets) as collected:
        try:
            notifier = notifier_factory(url)
            accepted = notifier.notify(
                body=_body_for(message, body_format),
                title=message.subject,
                body_format=body_format,
            )
        except Exception as exc:
            return scrub(f"{type(exc).__name__}: {exc}", secrets)[:2000]
    if accepted:
        return None
    return scrub(collected.reason() or "refused (no detail)", secrets)[:2000]


def send_message(
    message: Sendable,
    channels: Sequence[str],
    *,
    now: datetime,
    notifier_factory: NotifierFactory = make_notifier,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    rate_limiter: RateLimiter | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    skip_channels: Collection[str] = (),
    clock_origin: float | None = None,
) -> SendResult:
    """Deliver `message` to each of `channels` (Apprise URLs) not in ``skip_channels``
    (redacted channels that already accepted it).

    Each channel is tried up to ``policy.tries`` times with ``policy.retry``'s backoff
    between tries (a try whose wait would end past its budget is left to a later
    round); every try is a `DeliveryAttempt` (redacted channel, time,
    outcome, scrubbed error). Attempt times are ``now`` plus the time elapsed on
    ``monotonic`` since ``clock_origin`` (default: the start of this call; a
    delivery run passes its own start). Nothing is written to the database here.
    Thread-safe (with a thread-safe ``notifier_factory``, ``sleep`` and ``monotonic``).
    """
    with guarded_logs() as guard:
        return send_guarded(
            message,
            channels,
            now=now,
            notifier_factory=notifier_factory,
            sleep=sleep,
            monotonic=monotonic,
            rate_limiter=rate_limiter,
            policy=policy,
            skip_channels=skip_channels,
            clock_origin=clock_origin,
            guard=guard,
        )


class Checkpoints(Protocol):
    """How a delivery run keeps the books while one message is sent
    (`tasks.delivery.lease.Bookkeeping`)."""

    def answered(self, attempt: DeliveryAttempt) -> None:
        """A channel answered (accepted or refused)."""

    def flush(self) -> None:
        """Commit the answers not yet committed: called before any further post or wait."""

    def may_post(self) -> bool:
        """Whether the run still holds the message long enough to post it once more."""


def send_guarded(
    message: Sendable,
    channels: Sequence[str],
    *,
    now: datetime,
    notifier_factory: NotifierFactory,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
    rate_limiter: RateLimiter | None,
    policy: DeliveryPolicy,
    skip_channels: Collection[str],
    clock_origin: float | None,
    guard: LogGuard,
    checkpoints: Checkpoints | None = None,
) -> SendResult:
    """`send_message` with its logs guarded by ``guard`` (installed by the caller).

    With ``checkpoints``, every answer is handed over as it comes and committed before
    the next post, backoff or rate-limit wait; sending stops (the rest is left to a
    later round) when the lease would end before another post could be answered.
    """
    if message.id is None:
        raise ValueError("save the message before sending it")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    start = monotonic() if clock_origin is None else clock_origin

    def at() -> datetime:
        return now + timedelta(seconds=max(0.0, monotonic() - start))

    skip = set(skip_channels)
    targets = [(url, redact_channel(url)) for url in channels]
    targets = [(url, shown) for url, shown in targets if shown not in skip]
    secrets = sorted({s for url, _ in targets for s in channel_secrets(url)}, key=len, reverse=True)
    attempts: list[DeliveryAttempt] = []
    results: dict[str, ChannelResult] = {}
    pending = list(targets)
    stopped = False
    retry = policy.retry
    began = monotonic()
    try_number = 0
    while pending and not stopped:
        if try_number >= 1:
            if not retry.may_retry(try_number):
                break
            delay = retry.delay(try_number)
            if not retry.within_budget(monotonic() - began, delay):
                log.warning(
                    "message %s: waiting %.1fs more would exceed its retry budget, %d channels "
                    "wait for the next round",
                    message.id,
                    delay,
                    len(pending),
                )
                break
            if checkpoints is not None:
                checkpoints.flush()
            sleep(delay)
        try_number += 1
        still: list[tuple[str, str]] = []
        for url, shown in pending:
            if checkpoints is not None:
                checkpoints.flush()
            if rate_limiter is not None:
                rate_limiter.acquire(url)
            if checkpoints is not None and not checkpoints.may_post():
                log.warning(
                    "message %s: its lease ends soon, %s and later channels wait for the "
                    "next round",
                    message.id,
                    shown,
                )
                stopped = True
                break
            attempted_at = at()
            error = _try_channel(message, url, notifier_factory, secrets, guard)
            attempt = DeliveryAttempt(
                message_id=message.id,
                channel=shown[:300],
                attempted_at=attempted_at,
                outcome=AttemptOutcome.DELIVERED if error is None else AttemptOutcome.FAILED,
                error=error or "",
            )
            attempts.append(attempt)
            if checkpoints is not None:
                checkpoints.answered(attempt)
            if error is None:
                results[shown] = ChannelResult(shown, True, try_number, "", attempted_at)
                log.info("message %s delivered to %s (try %d)", message.id, shown, try_number)
            else:
                results[shown] = ChannelResult(shown, False, try_number, error)
                still.append((url, shown))
                log.warning(
                    "message %s not delivered to %s (try %d): %s",
                    message.id,
                    shown,
                    try_number,
                    error,
                )
        pending = still
    return SendResult(
        attempts=tuple(attempts),
        channels=tuple(results[shown] for _, shown in targets if shown in results),
    )
