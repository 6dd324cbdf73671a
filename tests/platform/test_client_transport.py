"""The platform client against scripted answers (httpx.MockTransport): paging, retries, errors."""

from __future__ import annotations

import asyncio
import logging
import pickle
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest

from tasks.platform import (
    Page,
    PlatformAuthError,
    PlatformClient,
    PlatformError,
    PlatformProtocolError,
    PlatformRejected,
    PlatformUnavailable,
    RetryPolicy,
    is_retryable,
    retry_condition,
)
from tests.platform.support import TOKEN, FakeTime, make_client, run

BASE = "https://platform.test"

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests in order (the last answer repeats) and records every request."""

    def __init__(self, answers: Sequence[Answer]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests), len(self.answers)) - 1
        answer = self.answers[index]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


def page(items: list[dict[str, Any]], cursor: str | None = None) -> httpx.Response:
    return httpx.Response(200, json={"items": items, "next_cursor": cursor})


def error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message}}, headers=headers
    )


def call(
    script: Script,
    body: Callable[[PlatformClient], Any],
    *,
    fake: FakeTime | None = None,
    **kw: Any,
) -> Any:
    fake = fake or FakeTime()

    async def go() -> Any:
        transport = httpx.MockTransport(script)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            return await body(make_client(http, fake, **kw))

    return run(go())


async def all_pages(client: PlatformClient) -> list[Page]:
    return [p async for p in client.iter_progress("2026-03")]


def connect_error() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


# --------------------------------------------------------------------------- paging


def test_pages_are_followed_across_cursors_until_next_cursor_is_null() -> None:
    script = Script(
        [
            page([{"record_id": "a"}, {"record_id": "b"}], "c1"),
            page([{"record_id": "c"}], "c2"),
            page([], None),
        ]
    )
    pages = call(script, all_pages, page_limit=2)

    assert [p.page_no for p in pages] == [1, 2, 3]
    assert [[i["record_id"] for i in p.items] for p in pages] == [["a", "b"], ["c"], []]
    assert pages[-1].is_last
    sent = [dict(r.url.params) for r in script.requests]
    assert sent == [
        {"period": "2026-03", "limit": "2"},
        {"period": "2026-03", "limit": "2", "cursor": "c1"},
        {"period": "2026-03", "limit": "2", "cursor": "c2"},
    ]
    assert all(r.url.path == "/api/v1/progress" for r in script.requests)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in script.requests)


def test_updated_since_and_since_are_sent_as_rfc3339_times_with_their_offset() -> None:
    script = Script([page([], None)])
    since = datetime.fromisoformat("2026-04-03T10:00:00+08:00")

    async def body(client: PlatformClient) -> None:
        await client.fetch_progress("2026-03", updated_since=since)
        await client.fetch_appeals(since="2026-04-01T00:00:00Z")
        await client.fetch_units()

    call(script, body)
    assert script.requests[0].url.params["updated_since"] == "2026-04-03T10:00:00+08:00"
    assert script.requests[1].url.path == "/api/v1/appeals"
    assert script.requests[1].url.params["since"] == "2026-04-01T00:00:00Z"
    assert script.requests[2].url.path == "/api/v1/units"


@pytest.mark.parametrize(
    ("call_with", "message"),
    [
        (lambda c: c.fetch_progress("2026-13"), "period"),
        (lambda c: c.fetch_progress("2026-3"), "period"),
        (lambda c: c.fetch_progress("2026-03", updated_since=datetime(2026, 4, 1)), "aware"),
        (lambda c: c.fetch_appeals(since="yesterday"), "RFC 3339"),
        (lambda c: c.fetch_appeals(since="2026-04-01T00:00:00"), "offset"),
    ],
)
def test_bad_arguments_are_refused_before_any_request_is_made(
    call_with: Callable[[PlatformClient], Any], message: str
) -> None:
    script = Script([page([], None)])
    with pytest.raises(ValueError, match=message):
        call(script, call_with)
    assert script.requests == []


@pytest.mark.parametrize("limit", [0, 1001])
def test_a_page_limit_outside_1_to_1000_is_refused_when_the_client_is_built(limit: int) -> None:
    with pytest.raises(ValueError, match="page_limit"):
        PlatformClient(httpx.AsyncClient(), token=TOKEN, page_limit=limit)


def test_a_cursor_the_platform_repeats_stops_paging_with_a_protocol_error() -> None:
    script = Script([page([{"x": 1}], "same"), page([{"x": 2}], "same")])
    with pytest.raises(PlatformProtocolError, match="already returned"):
        call(script, all_pages)
    assert len(script.requests) == 2


# --------------------------------------------------------------------------- retries


def test_429_waits_exactly_the_seconds_given_in_retry_after() -> None:
    fake = FakeTime()
    script = Script(
        [
            error(429, "rate_limited", "slow down", **{"Retry-After": "7"}),
            error(429, "rate_limited", "slow down", **{"Retry-After": "2"}),
            page([{"record_id": "a"}], None),
        ]
    )
    pages = call(script, all_pages, fake=fake)
    assert fake.sleeps == [7.0, 2.0]
    assert len(script.requests) == 3
    assert pages[0].items == [{"record_id": "a"}]


def test_a_retry_after_longer_than_the_policy_allows_is_capped() -> None:
    fake = FakeTime()
    script = Script(
        [error(429, "rate_limited", "later", **{"Retry-After": "3600"}), page([], None)]
    )
    call(script, all_pages, fake=fake, retry=RetryPolicy(max_retry_after=30, total_budget=100))
    assert fake.sleeps == [30.0]


def test_a_429_without_retry_after_falls_back_to_backoff() -> None:
    fake = FakeTime()
    script = Script([httpx.Response(429), page([], None)])
    call(script, all_pages, fake=fake, retry=RetryPolicy(base_delay=2.0))
    assert len(fake.sleeps) == 1
    assert 0 <= fake.sleeps[0] <= 2.0


def test_502_503_504_timeouts_and_connection_errors_are_retried_with_jittered_backoff() -> None:
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0)
    script = Script(
        [
            error(503, "unavailable", "busy"),
            httpx.Response(502),
            httpx.Response(504),
            connect_error(),
            httpx.ReadTimeout("read timed out"),
            page([{"record_id": "ok"}], None),
        ]
    )
    pages = call(script, all_pages, fake=fake, retry=policy, seed=7)

    assert pages[0].items == [{"record_id": "ok"}]
    assert len(script.requests) == 6
    rng = random.Random(7)
    expected = [policy.backoff(n, rng) for n in range(1, 6)]
    assert fake.sleeps == pytest.approx(expected)
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0]  # base × 2^(n-1), capped at max_delay
    assert all(0 <= s <= c for s, c in zip(fake.sleeps, ceilings, strict=True))


def test_exhausted_retries_raise_platform_unavailable_with_attempts_and_last_status() -> None:
    fake = FakeTime()
    script = Script([error(503, "unavailable", "maintenance")])
    with pytest.raises(PlatformUnavailable) as caught:
        call(script, all_pages, fake=fake, retry=RetryPolicy(max_attempts=4))

    err = caught.value
    assert err.attempts == 4
    assert err.last_status == 503
    assert err.last_exception is None
    assert err.path == "/api/v1/progress"
    assert "period=2026-03" in err.query
    assert len(script.requests) == 4
    assert len(fake.sleeps) == 3
    assert "failed 4 times" in str(err)


def test_exhausted_connection_errors_name_the_last_exception() -> None:
    script = Script([connect_error()])
    with pytest.raises(PlatformUnavailable) as caught:
        call(script, all_pages, retry=RetryPolicy(max_attempts=3))
    assert caught.value.last_status is None
    assert caught.value.last_exception == "ConnectError: connection refused"
    assert "ConnectError" in str(caught.value)


def test_retrying_stops_when_the_next_wait_would_pass_the_total_budget() -> None:
    fake = FakeTime()
    script = Script([error(429, "rate_limited", "later", **{"Retry-After": "6"})])
    with pytest.raises(PlatformUnavailable, match="retry budget") as caught:
        call(script, all_pages, fake=fake, retry=RetryPolicy(max_attempts=10, total_budget=10))
    assert fake.sleeps == [6.0]
    assert caught.value.attempts == 2


def test_a_500_is_unavailable_at_once_without_retrying() -> None:
    script = Script([error(500, "internal", "boom")])
    with pytest.raises(PlatformUnavailable, match="internal: boom") as caught:
        call(script, all_pages)
    assert caught.value.attempts == 1
    assert len(script.requests) == 1


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (400, "invalid_period", "period must look like 2026-03", PlatformRejected),
        (401, "unauthorized", "missing or invalid bearer token", PlatformAuthError),
        (403, "forbidden", "token may not read progress", PlatformAuthError),
        (404, "not_found", "no such endpoint", PlatformRejected),
    ],
)
def test_refusals_fail_at_once_with_the_platforms_own_words(
    status: int, code: str, message: str, kind: type[PlatformRejected]
) -> None:
    fake = FakeTime()
    script = Script([error(status, code, message)])
    with pytest.raises(kind) as caught:
        call(script, all_pages, fake=fake)

    err = caught.value
    assert type(err) is kind
    assert len(script.requests) == 1
    assert fake.sleeps == []
    assert (err.status, err.code, err.platform_message) == (status, code, message)
    text = str(err)
    assert f"HTTP {status}" in text
    assert code in text and message in text
    assert "/api/v1/progress?period=2026-03&limit=1000" in text
    assert not is_retryable(err)


def test_a_refusal_without_a_json_error_still_says_what_came_back() -> None:
    script = Script([httpx.Response(404, text="Not Found")])
    with pytest.raises(PlatformRejected, match="Not Found") as caught:
        call(script, all_pages)
    assert caught.value.code is None


# --------------------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"items": []}', "missing next_cursor"),
        (b'{"next_cursor": null}', "missing items"),
        (b'{"items": {}, "next_cursor": null}', "not an array"),
        (b'{"items": [], "next_cursor": 5}', "next_cursor"),
        (b'{"items": [], "next_cursor": ""}', "next_cursor"),
    ],
)
def test_a_body_that_is_not_the_documented_page_is_a_protocol_error(body: bytes, why: str) -> None:
    script = Script([httpx.Response(200, content=body)])
    with pytest.raises(PlatformProtocolError, match=why):
        call(script, all_pages)
    assert len(script.requests) == 1


def test_items_that_are_not_objects_or_hold_nan_are_passed_on_for_the_record_checks() -> None:
    body = b'{"items": [1, {"value": NaN}, {"value": -Infinity}, "x"], "next_cursor": null}'
    script = Script([httpx.Response(200, content=body)])
    (only,) = call(script, all_pages)
    assert only.items[0] == 1 and only.items[3] == "x"
    assert only.items[1]["value"] != only.items[1]["value"]  # NaN
    assert only.items[2]["value"] == float("-inf")


def test_a_page_cut_short_is_retried_and_then_read() -> None:
    good = b'{"items": [{"record_id": "r1"}], "next_cursor": null}'
    script = Script([httpx.Response(200, content=good[:20]), httpx.Response(200, content=good)])
    (only,) = call(script, all_pages)
    assert only.items == [{"record_id": "r1"}]
    assert len(script.requests) == 2


def test_a_page_that_stays_cut_short_makes_the_platform_unavailable() -> None:
    script = Script([httpx.Response(200, content=b'{"items": [{"record_id": "r1"')])
    with pytest.raises(PlatformUnavailable, match="not valid JSON") as caught:
        call(script, all_pages, retry=RetryPolicy(max_attempts=3))
    assert caught.value.attempts == 3 and len(script.requests) == 3


# --------------------------------------------------------------------------- secrecy


def test_the_token_never_appears_in_reprs_messages_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    leaks: list[str] = []

    async def body(client: PlatformClient) -> None:
        leaks.extend([repr(client), str(client)])

    call(Script([page([], None)]), body)

    echoing = Script([error(401, "unauthorized", f"token {TOKEN} is not valid")])
    with pytest.raises(PlatformAuthError) as auth:
        call(echoing, all_pages)
    failing = Script([httpx.ConnectError(f"cannot reach host for Bearer {TOKEN}")])
    with pytest.raises(PlatformUnavailable) as down:
        call(failing, all_pages, retry=RetryPolicy(max_attempts=2))
    garbled = Script([httpx.Response(200, content=f"oops {TOKEN}".encode())])
    with pytest.raises(PlatformProtocolError) as proto:
        call(garbled, all_pages)

    for err in (auth.value, down.value, proto.value):
        leaks.extend([str(err), repr(err), repr(err.__dict__)])
    leaks.extend(record.getMessage() for record in caplog.records)
    assert "***" in str(auth.value)
    assert not [text for text in leaks if TOKEN in text]


# --------------------------------------------------------------------------- concurrency


def test_several_periods_are_read_side_by_side_without_passing_max_concurrency() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.005)
        in_flight -= 1
        period = request.url.params["period"]
        n = int(request.url.params.get("cursor", "0"))
        cursor = str(n + 1) if n < 2 else None
        return page([{"period": period, "n": n}], cursor)

    async def go() -> dict[str, list[Page]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE) as http:
            client = make_client(http, FakeTime(), max_concurrency=2)
            periods = [f"2026-{m:02d}" for m in range(1, 7)]
            return await client.fetch_progress_pages_concurrently([*periods, "2026-01"])

    result = run(go())
    assert list(result) == [f"2026-{m:02d}" for m in range(1, 7)]
    for period, pages in result.items():
        assert [p.items for p in pages] == [[{"period": period, "n": n}] for n in range(3)]
    assert peak == 2


def test_when_one_period_fails_the_concurrent_read_raises_that_error_itself() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["period"] == "2026-02":
            return error(404, "not_found", "no such period")
        return page([{"ok": 1}], None)

    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE) as http:
            client = make_client(http, FakeTime())
            return await client.fetch_progress_pages_concurrently(["2026-01", "2026-02"])

    with pytest.raises(PlatformRejected, match="no such period"):
        run(go())


def test_a_redirect_is_a_protocol_error_that_points_at_the_base_url() -> None:
    script = Script([httpx.Response(301, headers={"Location": "https://elsewhere/"})])
    with pytest.raises(PlatformProtocolError, match="base URL"):
        call(script, all_pages)


def test_a_503_with_retry_after_waits_what_it_asks() -> None:
    fake = FakeTime()
    script = Script([httpx.Response(503, headers={"Retry-After": "4"}), page([], None)])
    call(script, all_pages, fake=fake)
    assert fake.sleeps == [4.0]


# --------------------------------------------------------------------------- errors as values


def test_only_platform_unavailable_is_worth_retrying_later() -> None:
    unavailable = PlatformUnavailable("down", path="/api/v1/units", attempts=3, last_status=503)
    assert is_retryable(unavailable)
    for err in (
        PlatformRejected("no", status=400),
        PlatformAuthError("no", status=401),
        PlatformProtocolError("bad"),
        PlatformError("misuse"),
        ValueError("x"),
    ):
        assert not is_retryable(err)

    class State:
        def __init__(self, data: object) -> None:
            self.data = data

    class Record:
        def __init__(self, result: object) -> None:
            self.result = result

    assert retry_condition(None, None, State(unavailable))
    assert retry_condition(None, None, State(Record(unavailable)))
    assert not retry_condition(None, None, State(PlatformAuthError("no", status=401)))
    assert not retry_condition(None, None, State(None))


def test_errors_keep_their_details_through_pickling() -> None:
    errors: list[PlatformError] = [
        PlatformUnavailable("down", path="/p", query="a=1", attempts=3, last_status=503),
        PlatformAuthError("no", path="/p", status=401, code="unauthorized", platform_message="m"),
        PlatformProtocolError("bad", path="/p"),
    ]
    for err in errors:
        copy = pickle.loads(pickle.dumps(err))
        assert type(copy) is type(err)
        assert str(copy) == str(err)
        assert copy.__dict__ == err.__dict__
