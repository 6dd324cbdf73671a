"""The one retry policy (`tasks.retry`): attempts, backoff with or without jitter,
Retry-After, the total budget."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tasks.delivery.sending import CHANNEL_RETRY
from tasks.platform import RetryPolicy as PlatformRetryPolicy
from tasks.retry import RetryPolicy, retry_after_seconds


def test_delivery_waits_2_then_8_seconds_between_a_channels_tries_and_never_longer() -> None:
    assert CHANNEL_RETRY.max_attempts == 3
    assert [CHANNEL_RETRY.delay(n) for n in (1, 2, 3, 10)] == [2.0, 8.0, 8.0, 8.0]
    assert CHANNEL_RETRY.within_budget(elapsed=1e9, delay=8.0)


def test_full_jitter_draws_exactly_what_the_platform_clients_policy_draws() -> None:
    ours, platform = RetryPolicy(), PlatformRetryPolicy()
    mine, theirs = random.Random(7), random.Random(7)
    assert [ours.backoff(n, mine) for n in range(1, 12)] == [
        platform.backoff(n, theirs) for n in range(1, 12)
    ]


def test_jittered_backoff_stays_under_the_exponential_ceiling() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    rng = random.Random(1)
    for attempt in range(1, 8):
        assert 0.0 <= policy.backoff(attempt, rng) <= min(3.0, 0.5 * 2 ** (attempt - 1))


def test_a_servers_retry_after_replaces_the_backoff_up_to_its_cap() -> None:
    policy = RetryPolicy(max_retry_after=30.0, jitter=False)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=600.0) == 30.0
    assert policy.delay(1) == 0.5


def test_attempts_stop_at_max_attempts_counting_the_first() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.may_retry(n) for n in (1, 2, 3)] == [True, True, False]


def test_a_wait_that_would_end_past_the_budget_is_not_started() -> None:
    policy = RetryPolicy(total_budget=10.0)
    assert policy.within_budget(elapsed=4.0, delay=6.0)
    assert not policy.within_budget(elapsed=4.0, delay=6.5)
    assert RetryPolicy(total_budget=math.inf).within_budget(elapsed=1e12, delay=1e12)


def test_a_very_late_attempt_waits_the_longest_delay_without_overflowing() -> None:
    assert RetryPolicy(jitter=False, max_delay=30.0).backoff(5000) == 30.0


@pytest.mark.parametrize(
    "policy",
    [
        {"max_attempts": 0},
        {"base_delay": -1.0},
        {"total_budget": -1.0},
        {"multiplier": 0.5},
    ],
)
def test_a_policy_that_cannot_work_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**policy)  # type: ignore[arg-type]


def test_retry_after_reads_seconds_and_http_dates_and_ignores_the_rest() -> None:
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    in_a_minute = format_datetime(now + timedelta(minutes=1), usegmt=True)
    assert retry_after_seconds(" 12 ") == 12.0
    assert retry_after_seconds(in_a_minute, wall_clock=now.timestamp) == 60.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None
