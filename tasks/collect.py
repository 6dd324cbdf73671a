"""Collecting platform data into the database: progress (one month) and units.

Progress collection is incremental and idempotent: a watermark per month asks the
platform only for records changed since the last run (``updated_since``, at or
after, so the boundary record comes again and is deduplicated); every version is
stored once (unique ``(record_id, updated_at)``); bad records are set aside in
``quarantined_record`` once each (unique fingerprint); good records on the same page
are kept. While a page is written, the next one is already being fetched.

When the platform cannot be read within the client's retry budget, the month is
marked unavailable (``unavailable_value`` with no unit: every unit) so nobody is
pre-deducted for the gap; the outcome says what could not be read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session

from models.catalog.vocabulary import ASSESSED_LIFECYCLES
from models.plans.records import BadRecord, GoodRecord, check_progress_record
from models.rules import Period
from models.tables import (
    CollectionWatermark,
    Indicator,
    ProgressRecord,
    QuarantinedRecord,
    UnavailableValue,
    Unit,
)
from tasks.platform import PlatformClient, PlatformError, PlatformUnavailable

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, int], None]
"""Called after each page with (pages, records, expected records)."""


@dataclass
class CollectOutcome:
    source: str
    period: str | None
    pages: int = 0
    records: int = 0
    stored: int = 0
    quarantined: int = 0
    unavailable: bool = False
    reason: str = ""
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "period": self.period,
            "pages": self.pages,
            "records": self.records,
            "stored": self.stored,
            "quarantined": self.quarantined,
            "unavailable": self.unavailable,
            "reason": self.reason,
            "reasons": dict(self.reasons),
        }


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def insert_ignoring_duplicates(engine: Engine, model: Any) -> Any:
    """An INSERT that skips rows violating a unique constraint, returning the new ids.

    Counting returned ids works on both backends (a bulk rowcount does not on PostgreSQL).
    """
    table = _table(model)
    statement: Insert
    if engine.dialect.name == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing()
    return statement.returning(table.c.id)


def _lookup(engine: Engine, year: int) -> tuple[dict[str, int], dict[str, int], int]:
    """Unit ids by code, the year's assessed indicator ids by code, expected record count."""
    unit_t, ind_t = _table(Unit), _table(Indicator)
    with engine.connect() as conn:
        units = {code: uid for uid, code in conn.execute(select(unit_t.c.id, unit_t.c.code))}
        on_platform = [
            cat
            for (cat,) in conn.execute(
                select(unit_t.c.category).where(unit_t.c.on_platform.is_(True))
            )
        ]
        indicators: dict[str, int] = {}
        expected = 0
        rows = conn.execute(
            select(ind_t.c.id, ind_t.c.code, ind_t.c.categories).where(
                ind_t.c.year == year, ind_t.c.lifecycle.in_(ASSESSED_LIFECYCLES)
            )
        )
        for iid, code, categories in rows:
            indicators[code] = iid
            expected += sum(1 for cat in on_platform if cat in categories)
    return units, indicators, expected


def _load_watermark(engine: Engine, source: str, period: str) -> datetime | None:
    with Session(engine) as session:
        row = session.get(CollectionWatermark, (source, period))
        return row.high_water if row else None


def _write_page(
    engine: Engine, good: Sequence[GoodRecord], bad: Sequence[BadRecord], source: str, now: datetime
) -> tuple[int, int]:
    """Store a page's good versions and quarantined records; return how many were new."""
    stored = quarantined = 0
    with engine.begin() as conn:
        if good:
            result = conn.execute(
                insert_ignoring_duplicates(engine, ProgressRecord),
                [
                    {
                        "record_id": g.record_id,
                        "period": g.period,
                        "unit_id": g.unit_id,
                        "indicator_id": g.indicator_id,
                        "value": g.value,
                        "status": g.status,
                        "reported_at": g.reported_at,
                        "updated_at": g.updated_at,
                        "collected_at": now,
                        "evidence_count": g.evidence_count,
                        "note": g.note,
                    }
                    for g in good
                ],
            )
            stored = len(result.all())
        if bad:
            result = conn.execute(
                insert_ignoring_duplicates(engine, QuarantinedRecord),
                [
                    {
                        "source": source,
                        "period": b.raw.get("period")
                        if isinstance(b.raw.get("period"), str)
                        else None,
                        "record_id": b.record_id,
                        "reason": b.reason,
                        "detail": b.detail[:500],
                        "raw": dict(b.raw),
                        "fingerprint": b.fingerprint,
                        "first_seen_at": now,
                    }
                    for b in bad
                ],
            )
            quarantined = len(result.all())
    return stored, quarantined


async def collect_progress(
    engine: Engine,
    client: PlatformClient,
    month: Period,
    now: datetime,
    *,
    on_page: ProgressCallback | None = None,
) -> CollectOutcome:
    """Collect one month's progress records (see the module docstring)."""
    units, indicators, expected = await asyncio.to_thread(_lookup, engine, month.year)
    since = await asyncio.to_thread(_load_watermark, engine, "progress", month.key)
    outcome = CollectOutcome("progress", month.key)
    high_water = since
    writing: asyncio.Task[tuple[int, int]] | None = None

    async def settle() -> None:
        nonlocal writing
        if writing is not None:
            stored, quarantined = await writing
            outcome.stored += stored
            outcome.quarantined += quarantined
            writing = None

    try:
        async for page in client.iter_progress(month.key, updated_since=since):
            good: list[GoodRecord] = []
            bad: list[BadRecord] = []
            for raw in page.items:
                checked = check_progress_record(raw, month.key, units, indicators)
                if isinstance(checked, GoodRecord):
                    good.append(checked)
                    if high_water is None or checked.updated_at > high_water:
                        high_water = checked.updated_at
                else:
                    bad.append(checked)
                    outcome.reasons[checked.reason] = outcome.reasons.get(checked.reason, 0) + 1
            await settle()
            writing = asyncio.create_task(
                asyncio.to_thread(_write_page, engine, good, bad, "progress", now)
            )
            outcome.pages += 1
            outcome.records += len(page.items)
            if on_page is not None:
                on_page(outcome.pages, outcome.records, expected)
        await settle()
    except PlatformUnavailable as exc:
        await settle()
        outcome.unavailable = True
        outcome.reason = str(exc)
        await asyncio.to_thread(_mark_unavailable, engine, month.key, str(exc), now)
        logger.warning("progress for %s could not be read: %s", month.key, exc)
        return outcome
    await asyncio.to_thread(_advance_watermark, engine, month.key, high_water, outcome, now)
    return outcome


def _mark_unavailable(engine: Engine, period: str, reason: str, now: datetime) -> None:
    with Session(engine) as session:
        session.add(
            UnavailableValue(period=period, unit_id=None, reason=reason[:500], recorded_at=now)
        )
        session.commit()


def _advance_watermark(
    engine: Engine, period: str, high_water: datetime | None, outcome: CollectOutcome, now: datetime
) -> None:
    """Record the run; a complete read also resolves the month's earlier unavailability."""
    with Session(engine) as session:
        row = session.get(CollectionWatermark, ("progress", period))
        if row is None:
            row = CollectionWatermark(source="progress", period=period)
        if high_water is not None and (row.high_water is None or high_water > row.high_water):
            row.high_water = high_water
        row.last_run_at = now
        row.records_seen += outcome.records
        session.add(row)
        unav = _table(UnavailableValue)
        session.execute(
            update(unav)
            .where(unav.c.period == period, unav.c.resolved_at.is_(None))
            .values(resolved_at=now)
        )
        session.commit()


@dataclass
class Coverage:
    """Which of our units the platform has registered (纳入平台管理)."""

    registered: list[str] = field(default_factory=list)
    newly_registered: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


async def collect_units(engine: Engine, client: PlatformClient, now: datetime) -> Coverage:
    """Mark our units registered on the platform; set aside codes we do not know."""
    coverage = Coverage()
    bad: list[BadRecord] = []
    registered: dict[str, date | None] = {}
    async for page in client.iter_units():
        for raw in page.items:
            code = raw.get("unit_code") if isinstance(raw, dict) else None
            if not isinstance(code, str):
                bad.append(BadRecord("missing_fields", "missing: unit_code", None, raw or {}))
                continue
            onboarded = raw.get("onboarded_at")
            day: date | None = None
            if isinstance(onboarded, str):
                try:
                    day = datetime.fromisoformat(onboarded).date()
                except ValueError:
                    day = None
            registered[code] = day

    def apply() -> None:
        with Session(engine) as session:
            for unit in session.exec(select(Unit)).scalars():  # type: ignore[call-overload]
                if unit.code in registered:
                    coverage.registered.append(unit.code)
                    if not unit.on_platform:
                        coverage.newly_registered.append(unit.code)
                        unit.on_platform = True
                        unit.onboarded_on = registered[unit.code] or unit.onboarded_on
                        session.add(unit)
            session.commit()
        known = set(coverage.registered)
        for code in registered:
            if code not in known:
                coverage.unknown.append(code)
                bad.append(
                    BadRecord("unknown_unit", f"unit_code {code!r}", code, {"unit_code": code})
                )
        if bad:
            _write_page(engine, [], bad, "units", now)

    await asyncio.to_thread(apply)
    return coverage


__all__ = [
    "CollectOutcome",
    "Coverage",
    "PlatformError",
    "collect_progress",
    "collect_units",
    "insert_ignoring_duplicates",
]
