"""Channels: formats per schema, redaction of secrets, robots' answers, rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from tasks.delivery import (
    DeliveryPolicy,
    RateLimit,
    RateLimiter,
    body_format_for,
    channel_secrets,
    redact_channel,
    robot_response_error,
    scrub,
    send_message,
)
from tasks.retry import RetryPolicy
from tests.fixtures.receivers import FakeClock

DINGTALK = "dingtalk://SECabc123signing@0123456789abcdeftoken/"
WECOM = "wecombot://wecomKEY-42-abcdef"
MAIL = "mailto://kaohe:Pa55word!@smtp.qinglan.gov.cn:25?to=fgw@qinglan.gov.cn"
HOOK = "json://hooks.qinglan.gov.cn/services/T0001/B0002/xoxbSecretPath?token=qwerty123"


@pytest.mark.parametrize(
    ("url", "body_format"),
    [
        (DINGTALK, "markdown"),
        (WECOM, "markdown"),
        ("feishu://token123", "markdown"),
        (HOOK, "markdown"),
        (MAIL, "html"),
        ("mailtos://u:p@smtp.example.com", "html"),
        ("tgram://bot/chat", "text"),
    ],
)
def test_each_channel_gets_the_body_format_it_renders(url: str, body_format: str) -> None:
    assert body_format_for(url) == body_format


@pytest.mark.parametrize(
    ("url", "shown", "hidden"),
    [
        (DINGTALK, "dingtalk://***", ["0123456789abcdeftoken", "SECabc123signing"]),
        (WECOM, "wecombot://***", ["wecomKEY-42-abcdef"]),
        (MAIL, "mailto://smtp.qinglan.gov.cn:25/***", ["Pa55word!", "kaohe", "fgw@"]),
        (HOOK, "json://hooks.qinglan.gov.cn/***", ["xoxbSecretPath", "qwerty123", "T0001"]),
    ],
)
def test_a_redacted_channel_keeps_schema_and_server_but_no_secret(
    url: str, shown: str, hidden: list[str]
) -> None:
    redacted = redact_channel(url)
    assert redacted.startswith(shown + " #")
    for secret in hidden:
        assert secret not in redacted


def test_redaction_tells_two_robots_apart() -> None:
    assert redact_channel(DINGTALK) != redact_channel(DINGTALK.replace("token", "other"))


def test_scrubbing_masks_every_secret_of_a_channel_but_keeps_plain_words() -> None:
    text = (
        f"POST https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdeftoken failed; "
        f"login Pa55word! refused; url {HOOK}; Failed to send JSON notification"
    )
    secrets = channel_secrets(DINGTALK) + channel_secrets(MAIL) + channel_secrets(HOOK)
    clean = scrub(text, secrets)
    for secret in ("0123456789abcdeftoken", "Pa55word!", "xoxbSecretPath", "qwerty123"):
        assert secret not in clean
    assert "Failed to send JSON notification" in clean


def test_scrubbing_masks_token_parameters_even_of_unknown_channels() -> None:
    assert scrub("GET /x?access_token=abc&sign=xyz ok", []) == "GET /x?access_token=***&sign=*** ok"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, '{"errcode": 0, "errmsg": "ok"}', None),
        (200, '{"code": 0, "msg": "success", "StatusCode": 0}', None),
        (200, "plain ok", None),
        (200, '{"errcode": 310000, "errmsg": "keywords not in content"}', "errcode=310000"),
        (200, '{"errcode": 45009, "errmsg": "api freq out of limit"}', "errcode=45009"),
        (200, '{"code": 19021, "msg": "sign match fail"}', "code=19021"),
        (500, "", "HTTP 500"),
    ],
)
def test_a_robot_answer_with_an_error_code_is_a_failure_even_with_http_200(
    status: int, body: str, error: str | None
) -> None:
    found = robot_response_error(httpx.Response(status, text=body))
    if error is None:
        assert found is None
    else:
        assert found is not None and error in found


def test_a_dingtalk_robot_gets_at_most_20_messages_in_any_minute(clock: FakeClock) -> None:
    limiter = RateLimiter(monotonic=clock.monotonic, sleep=clock.sleep)
    sent_at = []
    for _ in range(45):
        limiter.acquire(DINGTALK)
        sent_at.append(clock.now)
    assert all(sum(1 for t in sent_at if s <= t < s + 60) <= 20 for s in sent_at)
    assert sent_at[19] == sent_at[0] and sent_at[20] == sent_at[0] + 60
    assert sent_at[-1] == sent_at[0] + 120


def test_rate_limits_are_per_channel_and_only_where_configured(clock: FakeClock) -> None:
    limiter = RateLimiter(
        {"dingtalk": RateLimit(2, 60.0)}, monotonic=clock.monotonic, sleep=clock.sleep
    )
    for url in (DINGTALK, DINGTALK, DINGTALK.replace("token", "other"), MAIL, MAIL, MAIL):
        limiter.acquire(url)
    assert clock.slept == []
    limiter.acquire(DINGTALK)
    assert clock.slept == [60.0]


def test_the_default_policy_tries_three_times_with_growing_backoff() -> None:
    policy = DeliveryPolicy()
    assert policy.tries == 3
    assert [policy.delay_before(n) for n in (2, 3)] == [2.0, 8.0]
    assert policy.unreachable_after_attempts == 6


@dataclass(frozen=True)
class _Message:
    id: int = 1
    subject: str = "提醒"
    body_markdown: str = "正文"
    body_text: str = "正文"
    body_html: str = "<p>正文</p>"


class _Refusing:
    def notify(self, *, body: str, title: str, body_format: str) -> bool:
        return False


def test_a_channel_is_tried_again_only_while_the_wait_fits_the_retry_budget(
    clock: FakeClock,
) -> None:
    budget = RetryPolicy(
        max_attempts=5,
        base_delay=2.0,
        multiplier=4.0,
        max_delay=8.0,
        jitter=False,
        total_budget=5.0,
    )
    result = send_message(
        _Message(),
        [HOOK],
        now=datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
        notifier_factory=lambda url: _Refusing(),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        policy=DeliveryPolicy(retry=budget),
    )
    assert len(result.attempts) == 2  # waiting 8 s more after 2 s would end past 5 s
    assert clock.slept == [2.0]
    assert not result.delivered_any
