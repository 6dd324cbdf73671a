"""Times from the platform are checked (issue 13, item 9): a progress record stamped 2098
books nothing and moves no watermark; an appeal filed in the future is set aside with its
reason, never taken, and the appeals watermark stays at or before now."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from deployments.demo.build_catalog import demo_catalog
from deployments.platform_sim_data import SimDataset
from models.persistence.database import make_engine, session_scope, upgrade_database
from models.plans.limits import parse_time
from models.plans.monthly import plan_monthly_analysis
from models.rules import Period, WorkCalendar
from tasks.appeals.intake import collect_appeals
from tasks.catalog import save_catalog
from tasks.monthly import load_month_snapshot, save_month_plan
from tasks.platform import PlatformClient, RetryPolicy
from tests.hostile.records_platform import TOKEN, RawPlatform, paged
from tests.hostile.test_records import (  # noqa: F401 (fixtures)
    MARCH,
    NOW,
    _collect,
    _rows,
    _text,
    _watermark,
    good_march,
    raw_platform,
)

pytestmark = [pytest.mark.db, pytest.mark.http]

LEDGER = """
    SELECT u.code, i.code, d.kind, d.stage, d.amount, d.level
    FROM deduction_entry d JOIN unit u ON u.id = d.unit_id JOIN indicator i ON i.id = d.indicator_id
    ORDER BY u.code, i.code, d.id
"""
LEVELS = """
    SELECT u.code, i.code, m.level FROM monthly_assessment m
    JOIN unit u ON u.id = m.unit_id JOIN indicator i ON i.id = m.indicator_id
    ORDER BY u.code, i.code
"""


def _analyse_march(engine: Engine) -> None:
    with session_scope(engine) as session:
        snapshot = load_month_snapshot(session, Period.parse(MARCH), WorkCalendar())
        save_month_plan(session, plan_monthly_analysis(snapshot), None, NOW)


@pytest.fixture
def clean_db(empty_db_url: str) -> Any:
    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:
        save_catalog(session, demo_catalog())
    yield engine
    engine.dispose()


def test_a_record_stamped_2098_is_quarantined_and_the_month_books_as_if_it_never_came(
    catalog_db: Engine,
    clean_db: Engine,
    raw_platform: tuple[RawPlatform, str],  # noqa: F811
    good_march: list[dict[str, Any]],  # noqa: F811
) -> None:
    platform, url = raw_platform
    early = datetime(2026, 4, 3, tzinfo=UTC)
    first = [r for r in good_march if parse_time(r["updated_at"]) <= early]  # type: ignore[operator]
    stamped = {**first[0], "record_id": "from-2098", "updated_at": "2098-01-01T00:00:00+08:00"}
    platform.progress[MARCH] = paged([_text(r) for r in [*first, stamped]], 50)
    _collect(catalog_db, url, now=early)
    platform.progress[MARCH] = paged([_text(r) for r in [*good_march, stamped]], 50)
    _collect(catalog_db, url)
    _analyse_march(catalog_db)

    platform.progress[MARCH] = paged([_text(r) for r in good_march], 50)  # never saw it
    _collect(clean_db, url)
    _analyse_march(clean_db)

    assert _rows(catalog_db, "SELECT record_id, reason FROM quarantined_record") == [
        ("from-2098", "future_time")
    ]
    assert _rows(catalog_db, "SELECT count(*) FROM progress_record WHERE record_id = 'from-2098'")[
        0
    ] == (0,)
    mark = _watermark(catalog_db, "progress", MARCH)
    assert mark is not None and mark <= NOW
    assert _rows(catalog_db, LEVELS) == _rows(clean_db, LEVELS)
    assert _rows(catalog_db, LEDGER) == _rows(clean_db, LEDGER)  # no false 未按期上传


def test_appeals_filed_in_the_future_are_quarantined_with_their_reason(
    catalog_db: Engine,
    raw_platform: tuple[RawPlatform, str],  # noqa: F811
    demo_year: SimDataset,
) -> None:
    platform, url = raw_platform
    now = datetime(2026, 4, 20, tzinfo=UTC)
    valid = [
        a
        for a in demo_year.appeals
        if a["period"] <= MARCH and parse_time(a["filed_at"]) <= now  # type: ignore[operator]
    ]
    future = [
        {**valid[0], "appeal_id": "ap-2027", "filed_at": "2027-01-19T10:00:00+08:00"},
        {**valid[1], "appeal_id": "ap-tomorrow", "filed_at": "2026-04-21T09:00:00+08:00"},
    ]
    platform.appeals = paged([_text(a) for a in [*valid, *future]], 5)

    async def run() -> Any:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            client = PlatformClient(http, token=TOKEN, retry=RetryPolicy(max_attempts=2))
            return await collect_appeals(catalog_db, client, now, WorkCalendar())

    outcome = asyncio.run(run())
    again = asyncio.run(run())

    quarantined = _rows(
        catalog_db, "SELECT record_id, reason, detail FROM quarantined_record ORDER BY record_id"
    )
    assert [(r[0], r[1]) for r in quarantined] == [
        ("ap-2027", "future_time"),
        ("ap-tomorrow", "future_time"),
    ]
    assert all(r[2] for r in quarantined)  # the reason in words, for the office
    taken = {pid for (pid,) in _rows(catalog_db, "SELECT platform_id FROM appeal")}
    assert taken == {a["appeal_id"] for a in valid}
    assert (outcome.quarantined, again.quarantined) == (2, 0)
    mark = _watermark(catalog_db, "appeals", "all")
    assert mark is not None and mark <= now
    assert mark == max(parse_time(a["filed_at"]) for a in valid)  # type: ignore[type-var]
