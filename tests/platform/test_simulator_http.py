"""The platform client against the real simulator over loopback HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from deployments.platform_sim import SimFaults, running_simulator
from deployments.platform_sim_data import CST, SimDataset, generate_year
from tasks.platform import (
    PROGRESS_PATH,
    PlatformAuthError,
    PlatformClient,
    PlatformRejected,
    PlatformUnavailable,
    RetryPolicy,
)
from tests.platform.support import (
    FAST_RETRY,
    TOKEN,
    YEAR,
    FakeTime,
    run,
    set_faults,
    sim_stats,
    small_catalog,
    with_client,
)

pytestmark = pytest.mark.http

PERIOD = f"{YEAR}-03"


def fetch_month(url: str, period: str = PERIOD, **kw: Any) -> tuple[list[dict[str, Any]], int]:
    """All records of ``period`` and the number of pages they came in."""

    async def body(client: PlatformClient, fake: FakeTime) -> tuple[list[dict[str, Any]], int]:
        pages = [p async for p in client.iter_progress(period)]
        return [item for p in pages for item in p.items], len(pages)

    kw.setdefault("page_limit", 50)
    return run(with_client(url, body, **kw))


def test_a_whole_month_fetched_over_many_pages_equals_the_visible_records(
    sim: str, dataset: SimDataset
) -> None:
    items, pages = fetch_month(sim)

    assert items == dataset.visible_progress(PERIOD)
    assert len(items) > 500
    assert pages == len(items) // 50 + 1
    assert sim_stats(sim)["by_status"] == {"200": pages}
    keys = [(r["updated_at"], r["record_id"]) for r in items]
    assert keys == sorted(keys)
    assert len({r["record_id"] for r in items}) == len(items)


def test_503_every_third_and_429_every_fifth_request_do_not_change_what_is_fetched(
    sim: str,
) -> None:
    clean, _ = fetch_month(sim)
    set_faults(sim, error_503_every=3, error_429_every=5, retry_after=0)

    faulty, _ = fetch_month(sim, retry=FAST_RETRY)

    assert faulty == clean
    by_status = sim_stats(sim)["by_status"]
    assert by_status["503"] >= 4
    assert by_status["429"] >= 2


def test_429_bursts_are_waited_out_for_the_retry_after_the_platform_asks_for(sim: str) -> None:
    set_faults(sim, burst_429=3, retry_after=2)

    async def body(client: PlatformClient, fake: FakeTime) -> list[float]:
        await client.fetch_progress(PERIOD)
        return fake.sleeps

    sleeps = run(with_client(sim, body, retry=RetryPolicy(max_attempts=5)))
    assert sleeps == [2.0, 2.0, 2.0]


def test_a_dead_platform_raises_platform_unavailable_after_the_retry_policy(sim: str) -> None:
    set_faults(sim, dead=True)
    with pytest.raises(PlatformUnavailable) as caught:
        fetch_month(sim, retry=FAST_RETRY)
    assert caught.value.attempts == FAST_RETRY.max_attempts
    assert caught.value.last_status == 503
    assert sim_stats(sim)["by_status"] == {"503": FAST_RETRY.max_attempts}


def test_a_platform_that_drops_connections_is_unavailable_too(sim: str) -> None:
    set_faults(sim, dead=True, dead_mode="close")
    with pytest.raises(PlatformUnavailable) as caught:
        fetch_month(sim, retry=FAST_RETRY)
    assert caught.value.last_status is None
    assert caught.value.last_exception is not None
    assert "RemoteProtocolError" in caught.value.last_exception
    assert sim_stats(sim)["by_status"] == {"dropped": FAST_RETRY.max_attempts}


def test_a_wrong_token_is_refused_at_once_with_a_clear_message(sim: str) -> None:
    with pytest.raises(PlatformAuthError) as caught:
        fetch_month(sim, token="not-the-token")
    err = caught.value
    assert err.status == 401
    assert err.code == "unauthorized"
    assert "platform refused the token with HTTP 401" in str(err)
    assert "not-the-token" not in str(err)
    assert sim_stats(sim)["requests"] == 1


def get_page(url: str, params: dict[str, str | int]) -> Any:
    async def body(client: PlatformClient, fake: FakeTime) -> Any:
        return await client.get_page(PROGRESS_PATH, params)

    return run(with_client(url, body))


@pytest.mark.parametrize("limit", [0, 1001, "ten"])
def test_a_limit_outside_1_to_1000_is_rejected_with_400(sim: str, limit: int | str) -> None:
    with pytest.raises(PlatformRejected) as caught:
        get_page(sim, {"period": PERIOD, "limit": limit})
    assert (caught.value.status, caught.value.code) == (400, "invalid_limit")
    assert f"limit={limit}" in str(caught.value)


@pytest.mark.parametrize("period", ["2026-3", "2026-13", "March", ""])
def test_a_period_not_like_2026_03_is_rejected_with_400(sim: str, period: str) -> None:
    with pytest.raises(PlatformRejected) as caught:
        get_page(sim, {"period": period})
    assert (caught.value.status, caught.value.code) == (400, "invalid_period")


def test_the_default_limit_is_200(sim: str) -> None:
    first = get_page(sim, {"period": PERIOD})
    assert len(first.items) == 200
    assert first.next_cursor is not None


def test_updated_since_returns_only_records_changed_at_or_after_it(
    sim: str, dataset: SimDataset
) -> None:
    everything = dataset.visible_progress(PERIOD)
    since = everything[len(everything) // 2]["updated_at"]

    async def body(client: PlatformClient, fake: FakeTime) -> list[dict[str, Any]]:
        return await client.fetch_progress(PERIOD, updated_since=datetime.fromisoformat(since))

    later = run(with_client(sim, body, page_limit=37))
    assert later == [r for r in everything if r["updated_at"] >= since]
    assert 0 < len(later) < len(everything)
    assert later[0]["updated_at"] == since


def test_a_cursor_replayed_with_a_different_query_is_rejected(sim: str) -> None:
    first = get_page(sim, {"period": PERIOD, "limit": 10})
    assert first.next_cursor is not None
    # the same query with the cursor works; another period does not
    again = get_page(sim, {"period": PERIOD, "limit": 10, "cursor": first.next_cursor})
    assert again.items
    with pytest.raises(PlatformRejected) as caught:
        get_page(sim, {"period": f"{YEAR}-04", "limit": 10, "cursor": first.next_cursor})
    assert (caught.value.status, caught.value.code) == (400, "cursor_mismatch")
    with pytest.raises(PlatformRejected) as garbage:
        get_page(sim, {"period": PERIOD, "cursor": "not-a-cursor"})
    assert garbage.value.code == "invalid_cursor"


def test_several_months_read_concurrently_equal_the_dataset(sim: str, dataset: SimDataset) -> None:
    periods = [f"{YEAR}-{m:02d}" for m in (1, 2, 3, 4)]

    async def body(client: PlatformClient, fake: FakeTime) -> dict[str, list[dict[str, Any]]]:
        pages = await client.fetch_progress_pages_concurrently(periods)
        return {p: [i for page in ps for i in page.items] for p, ps in pages.items()}

    result = run(with_client(sim, body, page_limit=100, max_concurrency=3))
    assert result == {p: dataset.visible_progress(p) for p in periods}


def test_units_and_appeals_are_served_in_order(sim: str, dataset: SimDataset) -> None:
    async def body(client: PlatformClient, fake: FakeTime) -> tuple[Any, Any, Any]:
        since = f"{YEAR}-07-01T00:00:00+08:00"
        return (
            await client.fetch_units(),
            await client.fetch_appeals(),
            await client.fetch_appeals(since=since),
        )

    units, appeals, later = run(with_client(sim, body, page_limit=7))
    assert [u["unit_code"] for u in units] == sorted(u.code for u in dataset.units)
    assert appeals == dataset.appeals
    assert [(a["filed_at"], a["appeal_id"]) for a in appeals] == sorted(
        (a["filed_at"], a["appeal_id"]) for a in appeals
    )
    assert later == [a for a in appeals if a["filed_at"] >= f"{YEAR}-07-01T00:00:00+08:00"]


def test_fault_settings_are_validated_and_readable(sim: str) -> None:
    with httpx.Client(base_url=sim) as http:
        assert http.post("/_sim/faults", json={"error_503_every": -1}).status_code == 400
        assert http.post("/_sim/faults", json={"explode": True}).status_code == 400
        assert http.post("/_sim/faults", json={"slow_ms": 5}).json()["slow_ms"] == 5
        assert http.get("/_sim/faults").json()["slow_ms"] == 5
        assert http.get("/api/v1/nothing-here").json()["error"]["code"] == "not_found"


def test_records_appear_as_the_simulators_clock_moves_on() -> None:
    units, indicators = small_catalog()
    dataset = generate_year(units, indicators, YEAR, seed=5, now=datetime(2026, 4, 2, tzinfo=CST))
    with running_simulator(dataset, token=TOKEN, faults=SimFaults(retry_after=0)) as url:
        early, _ = fetch_month(url)
        with httpx.Client(base_url=url) as http:
            moved = http.post("/_sim/clock", json={"now": "2026-04-30T00:00:00+08:00"})
            assert moved.json() == {"now": "2026-04-30T00:00:00+08:00"}
        late, _ = fetch_month(url)

    assert early == dataset.visible_progress(PERIOD, datetime(2026, 4, 2, tzinfo=CST))
    assert all(r["updated_at"] < "2026-04-02T00:00:01+08:00" for r in early)
    assert len(early) < len(late)
    assert late == dataset.visible_progress(PERIOD)
