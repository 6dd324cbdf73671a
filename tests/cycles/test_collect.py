"""Collecting a month from the platform simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from deployments.demo.build_catalog import demo_catalog
from deployments.platform_sim_data import SimDataset
from models.persistence.database import make_engine, session_scope, upgrade_database
from models.rules import Period
from tasks.catalog import save_catalog
from tasks.collect import collect_progress
from tasks.platform import PlatformAuthError
from tests.fixtures.demo import platform, set_faults

pytestmark = [pytest.mark.db, pytest.mark.http]
MARCH = Period.parse("2026-03")
NOW = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)  # after the month's last platform time


def _versions(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT record_id, updated_at, status, value, unit_id, indicator_id "
                "FROM progress_record ORDER BY record_id, updated_at"
            )
        ).all()
    return [tuple(str(v) for v in r) for r in rows]


def _quarantine(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT reason, fingerprint FROM quarantined_record")).all()
    return sorted((r[0], r[1]) for r in rows)


def _collect(engine: Engine, url: str, **kw: Any) -> Any:
    async def run() -> Any:
        async with platform(url, **kw) as client:
            return await collect_progress(engine, client, MARCH, NOW)

    return asyncio.run(run())


SIM_REASONS = {"period_mismatch": "wrong_period", "missing_field": "missing_fields"}


def test_a_month_is_collected_with_bad_records_set_aside_and_good_ones_kept(
    catalog_db: Engine, sim: str, demo_year: SimDataset
) -> None:
    outcome = _collect(catalog_db, sim)
    assert not outcome.unavailable
    assert outcome.pages > 5
    bad = demo_year.month("2026-03").expected_reason
    with catalog_db.connect() as conn:
        rows = conn.execute(sa.text("SELECT record_id, reason FROM quarantined_record")).all()
    assert {r[0]: r[1] for r in rows if r[0]} == {
        rid: SIM_REASONS.get(reason, reason)
        for rid, reason in bad.items()
        if rid in {r[0] for r in rows}
    }
    assert len(rows) == len(bad)
    assert outcome.stored == outcome.records - len(bad)
    assert len(_versions(catalog_db)) == outcome.stored


def test_collecting_the_same_month_twice_writes_nothing_new(catalog_db: Engine, sim: str) -> None:
    _collect(catalog_db, sim)
    versions, quarantine = _versions(catalog_db), _quarantine(catalog_db)
    again = _collect(catalog_db, sim)
    assert again.stored == 0 and again.quarantined == 0
    assert _versions(catalog_db) == versions
    assert _quarantine(catalog_db) == quarantine


def test_with_503s_and_429s_the_collection_ends_with_the_same_values(
    catalog_db: Engine, sim: str, empty_db_url: str
) -> None:
    _collect(catalog_db, sim)
    upgrade_database(empty_db_url)
    faulty = make_engine(empty_db_url)
    with session_scope(faulty) as session:
        save_catalog(session, demo_catalog())
    set_faults(sim, error_503_every=3, error_429_every=5, retry_after=0)
    outcome = _collect(faulty, sim)
    assert not outcome.unavailable
    assert _versions(faulty) == _versions(catalog_db)
    assert _quarantine(faulty) == _quarantine(catalog_db)
    faulty.dispose()


def test_a_dead_platform_marks_the_month_unavailable(catalog_db: Engine, sim: str) -> None:
    set_faults(sim, dead=True)
    outcome = _collect(catalog_db, sim)
    assert outcome.unavailable
    assert "503" in outcome.reason or "unavailable" in outcome.reason.lower()
    with catalog_db.connect() as conn:
        rows = conn.execute(sa.text("SELECT period, unit_id FROM unavailable_value")).all()
    assert [(r[0], r[1]) for r in rows] == [("2026-03", None)]


def test_a_wrong_token_stops_at_once_with_a_clear_message(catalog_db: Engine, sim: str) -> None:
    with pytest.raises(PlatformAuthError, match="401"):
        _collect(catalog_db, sim, token="wrong")
    assert _versions(catalog_db) == []
