"""Collecting platform data into the database: progress (one month).

Progress collection is incremental and idempotent: a watermark per month asks the
platform only for records changed since the last run (``updated_since``, at or
after, so the boundary record comes again and is deduplicated); every version is
stored once (unique ``(record_id, updated_at)``); bad records are set aside in
``quarantined_record`` once each (unique fingerprint); good records on the same page
are kept. Every record is checked against ``models.plans.limits`` before anything is
written (so one hostile value cannot fail a transaction on PostgreSQL); a version that
repeats a stored one (same ``record_id`` and ``updated_at``) with another value is set
aside as ``conflicting_version``. The watermark never passes the run's ``now``: a
future-stamped record is set aside and does not move it, and a stored watermark
already past ``now`` is ignored (the month is read afresh).

While a worker thread checks a page, the next one is already being fetched; checked
records are written in transactions of about ``WRITE_BATCH`` records (whole
pages), and whatever was read is written before a platform error is reported.

When the platform cannot be read within the client's retry budget, the month is
marked unavailable (``unavailable_value`` with no unit: every unit) so nobody is
pre-deducted for the gap; the outcome says what could not be read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session

from models.catalog.vocabulary import ASSESSED_LIFECYCLES
from models.persistence.tables import (
    CollectionWatermark,
    Indicator,
    ProgressRecord,
    QuarantinedRecord,
    UnavailableValue,
    Unit,
    table_of,
)
from models.persistence.types import utc
from models.plans.limits import clamp_watermark, usable_watermark
from models.plans.records import (
    BadRecord,
    CheckedPage,
    ProgressRow,
    StoredVersion,
    check_progress_page,
    find_conflicts,
    quarantine_row,
)
from models.rules import Period
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


def insert_ignoring_duplicates(engine: Engine, model: Any) -> Any:
    """An INSERT that skips rows violating a unique constraint, returning the new ids.

    Counting returned ids works on both backends (a bulk rowcount does not on PostgreSQL).
    """
    table = table_of(model)
    statement: Insert
    if engine.dialect.name == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).on_conflict_do_nothing()
    return statement.returning(table.c.id)


@dataclass(frozen=True)
class _Lookup:
    units: dict[str, int]
    indicators: dict[str, int]
    counts: frozenset[int]
    """Indicator ids whose values are counts (milestones completed)."""
    expected: int


def _lookup(engine: Engine, year: int) -> _Lookup:
    """Unit ids by code, the year's assessed indicator ids by code (and which of them
    count milestones), the expected record count."""
    unit_t, ind_t = table_of(Unit), table_of(Indicator)
    with engine.connect() as conn:
        units = {code: uid for uid, code in conn.execute(select(unit_t.c.id, unit_t.c.code))}
        on_platform = [
            cat
            for (cat,) in conn.execute(
                select(unit_t.c.category).where(unit_t.c.on_platform.is_(True))
            )
        ]
        indicators: dict[str, int] = {}
        counts: set[int] = set()
        expected = 0
        rows = conn.execute(
            select(ind_t.c.id, ind_t.c.code, ind_t.c.categories, ind_t.c.direction).where(
                ind_t.c.year == year, ind_t.c.lifecycle.in_(ASSESSED_LIFECYCLES)
            )
        )
        for iid, code, categories, direction in rows:
            indicators[code] = iid
            if direction == "milestone":
                counts.add(iid)
            expected += sum(1 for cat in on_platform if cat in categories)
    return _Lookup(units, indicators, frozenset(counts), expected)


def _load_watermark(engine: Engine, source: str, period: str) -> datetime | None:
    with Session(engine) as session:
        row = session.get(CollectionWatermark, (source, period))
        return row.high_water if row else None


_PROGRESS_COLUMNS = {
    # a ProgressRow's fields, then collected_at; their PostgreSQL types for COPY
    "record_id": "varchar",
    "period": "varchar",
    "unit_id": "int4",
    "indicator_id": "int4",
    "value": "numeric",
    "status": "varchar",
    "updated_at": "timestamptz",
    "reported_at": "timestamptz",
    "evidence_count": "int4",
    "note": "varchar",
    "collected_at": "timestamptz",
}
_COLUMN_LIST = ", ".join(_PROGRESS_COLUMNS)
_STAGING = "progress_record_in"


def _sqlite_time(value: datetime) -> str:
    """What ``UTCDateTime`` stores on SQLite: UTC, naive, as SQLite's DATETIME string."""
    # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" without its offset
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _insert_progress_sqlite(conn: Connection, rows: Sequence[ProgressRow], now: datetime) -> int:
    """INSERT ... ON CONFLICT DO NOTHING through the driver's executemany; new rows.

    Binding through the table's types cost more than everything else about a row, so
    the values are converted here as the types convert them: times to naive UTC
    strings (``UTCDateTime`` on SQLite's DATETIME), decimals to floats (``Numeric``).
    """
    collected_at = _sqlite_time(utc(now))  # utc() refuses a naive time, as the type does
    params: list[tuple[Any, ...]] = []
    append = params.append
    for rid, per, uid, iid, value, status, updated_at, reported_at, evidence, note in rows:
        updated = _sqlite_time(updated_at)
        if reported_at is None:
            reported = None
        elif reported_at is updated_at:
            reported = updated
        else:
            reported = _sqlite_time(reported_at)
        number = None if value is None else float(value)
        append(
            (rid, per, uid, iid, number, status, updated, reported, evidence, note, collected_at)
        )
    marks = ", ".join("?" * len(_PROGRESS_COLUMNS))
    result = conn.exec_driver_sql(
        f"INSERT INTO {table_of(ProgressRecord).name} ({_COLUMN_LIST}) VALUES ({marks}) "
        "ON CONFLICT DO NOTHING",
        params,
    )
    return max(result.rowcount, 0)


def _insert_progress_postgresql(
    conn: Connection, rows: Sequence[ProgressRow], now: datetime
) -> int:
    """Binary COPY into a temporary table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING.

    Half the server's work of an INSERT per row, a fifth of the client's; the rows
    go in in their order (``n``); the temporary table is emptied at every commit.
    """
    table = table_of(ProgressRecord).name
    collected_at = utc(now)
    cursor: Any = conn.connection.cursor()  # psycopg's
    try:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS "
            f"SELECT 0 AS n, {_COLUMN_LIST} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {_STAGING} (n, {_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", *_PROGRESS_COLUMNS.values()])
            for n, row in enumerate(rows):
                copy.write_row((n, *row, collected_at))
        cursor.execute(
            f"INSERT INTO {table} ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_STAGING} "
            "ORDER BY n ON CONFLICT DO NOTHING"
        )
        return max(int(cursor.rowcount), 0)
    finally:
        cursor.close()


_CONFLICT_CHUNK = 500


def _stored_versions(
    conn: Connection, rows: Sequence[ProgressRow]
) -> dict[tuple[str, datetime], StoredVersion]:
    """The stored (value, status) of every version of the rows' record ids."""
    table = table_of(ProgressRecord)
    ids = sorted({row[0] for row in rows})
    stored: dict[tuple[str, datetime], StoredVersion] = {}
    for start in range(0, len(ids), _CONFLICT_CHUNK):
        chunk = ids[start : start + _CONFLICT_CHUNK]
        result = conn.execute(
            select(table.c.record_id, table.c.updated_at, table.c.value, table.c.status).where(
                table.c.record_id.in_(chunk)
            )
        )
        for record_id, updated_at, value, status in result:
            stored[(record_id, updated_at)] = (value, status)
    return stored


def _write_page(
    engine: Engine,
    good: Sequence[ProgressRow],
    bad: Sequence[BadRecord],
    source: str,
    now: datetime,
    period: str | None = None,
) -> tuple[int, int, int]:
    """Store good versions and quarantined records (a page's or a batch's) in one
    transaction; return how many were new (stored, quarantined) and how many stored
    versions came again with another value (conflicts, quarantined too).

    When some good versions were already stored (or came twice), they are compared
    with what is stored: one with another value or status is quarantined too
    (``conflicting_version``) instead of silently dropped.
    """
    stored = quarantined = conflicting = 0
    with engine.begin() as conn:
        bad = list(bad)
        if good:
            if engine.dialect.name == "postgresql":
                stored = _insert_progress_postgresql(conn, good, now)
            else:
                stored = _insert_progress_sqlite(conn, good, now)
            if stored < len(good):
                conflicts = find_conflicts(good, _stored_versions(conn, good))
                conflicting = len(conflicts)
                bad.extend(conflicts)
        if bad:
            result = conn.execute(
                insert_ignoring_duplicates(engine, QuarantinedRecord),
                [quarantine_row(b, source, now, period) for b in bad],
            )
            quarantined = len(result.all())
    return stored, quarantined, conflicting


WRITE_BATCH = 10_000
"""Checked records are written in transactions of about this many (whole pages)."""


@dataclass
class _Batch:
    good: list[ProgressRow] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.good) + len(self.bad)


@dataclass
class _Checked:
    page: CheckedPage
    full: _Batch | None = None  # a batch to write
    written: tuple[int, int, int] | None = None  # _write_page's counts if written already


class _Pipeline:
    """One month's pages from fetched to stored.

    While page N+1 is fetched, a worker thread checks page N. Checked records are
    written in transactions of about ``WRITE_BATCH`` (one transaction per page made
    SQLite commit, and checkpoint its WAL, a hundred times a month, which cost more
    than the inserts). SQLite writes in the checking thread; PostgreSQL, whose work
    is in the server, writes a batch in a thread of its own while the next one is
    checked. Batches are written one at a time, in order.
    """

    def __init__(
        self,
        engine: Engine,
        period: str,
        lookup: _Lookup,
        now: datetime,
        outcome: CollectOutcome,
        high_water: datetime | None,
    ) -> None:
        self.engine = engine
        self.period = period
        self.units = lookup.units
        self.indicators = lookup.indicators
        self.counts = lookup.counts
        self.now = now
        self.outcome = outcome
        self.high_water = high_water
        self.inline = engine.dialect.name == "sqlite"
        self.batch = _Batch()  # touched by the checking thread only
        self.checking: asyncio.Task[_Checked] | None = None
        self.writing: asyncio.Task[tuple[int, int, int]] | None = None

    async def page(self, items: Sequence[Any]) -> None:
        """Start checking a page once the previous one is checked."""
        await self._settle_check()
        self.checking = asyncio.create_task(asyncio.to_thread(self._check, items))

    async def finish(self) -> None:
        """Check and write everything taken so far."""
        await self._settle_check()
        if self.batch:
            batch, self.batch = self.batch, _Batch()
            await self._write(batch)
        await self._settle_write()

    def _check(self, items: Sequence[Any]) -> _Checked:  # in a worker thread
        page = check_progress_page(
            items, self.period, self.units, self.indicators, counts=self.counts, now=self.now
        )
        self.batch.good.extend(page.good)
        self.batch.bad.extend(page.bad)
        if len(self.batch) < WRITE_BATCH:
            return _Checked(page)
        full, self.batch = self.batch, _Batch()
        if self.inline:
            return _Checked(page, written=self._write_batch(full))
        return _Checked(page, full=full)

    def _write_batch(self, batch: _Batch) -> tuple[int, int, int]:
        return _write_page(self.engine, batch.good, batch.bad, "progress", self.now, self.period)

    async def _settle_check(self) -> None:
        if self.checking is None:
            return
        checked = await self.checking
        self.checking = None
        outcome = self.outcome
        for reason, count in checked.page.reasons.items():
            outcome.reasons[reason] = outcome.reasons.get(reason, 0) + count
        page_high = checked.page.high_water
        if page_high is not None and (self.high_water is None or page_high > self.high_water):
            self.high_water = page_high
        if checked.written is not None:
            self._count(checked.written)
        if checked.full is not None:
            await self._write(checked.full)

    async def _write(self, batch: _Batch) -> None:
        await self._settle_write()
        self.writing = asyncio.create_task(asyncio.to_thread(self._write_batch, batch))
        if self.inline:
            await self._settle_write()

    async def _settle_write(self) -> None:
        if self.writing is not None:
            written = await self.writing
            self.writing = None
            self._count(written)

    def _count(self, written: tuple[int, int, int]) -> None:
        outcome = self.outcome
        outcome.stored += written[0]
        outcome.quarantined += written[1]
        if written[2]:
            reasons = outcome.reasons
            reasons["conflicting_version"] = reasons.get("conflicting_version", 0) + written[2]


async def collect_progress(
    engine: Engine,
    client: PlatformClient,
    month: Period,
    now: datetime,
    *,
    on_page: ProgressCallback | None = None,
) -> CollectOutcome:
    """Collect one month's progress records (see the module docstring)."""
    lookup = await asyncio.to_thread(_lookup, engine, month.year)
    expected = lookup.expected
    stored_mark = await asyncio.to_thread(_load_watermark, engine, "progress", month.key)
    since = usable_watermark(stored_mark, now)
    if since != stored_mark:
        logger.warning(
            "progress watermark of %s is %s, later than now (%s): reading the whole month",
            month.key,
            stored_mark,
            now,
        )
    outcome = CollectOutcome("progress", month.key)
    pipeline = _Pipeline(engine, month.key, lookup, now, outcome, since)
    try:
        async for page in client.iter_progress(month.key, updated_since=since):
            await pipeline.page(page.items)
            outcome.pages += 1
            outcome.records += len(page.items)
            if on_page is not None:
                on_page(outcome.pages, outcome.records, expected)
        await pipeline.finish()
    except PlatformUnavailable as exc:
        await pipeline.finish()
        outcome.unavailable = True
        outcome.reason = str(exc)
        await asyncio.to_thread(_mark_unavailable, engine, month.key, str(exc), now)
        logger.warning("progress for %s could not be read: %s", month.key, exc)
        return outcome
    except PlatformError:
        await pipeline.finish()  # what was read is kept, as when pages were written singly
        raise
    high_water = pipeline.high_water
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
        row.high_water = clamp_watermark(row.high_water, high_water, now)
        row.last_run_at = now
        row.records_seen += outcome.records
        session.add(row)
        unav = table_of(UnavailableValue)
        session.execute(
            update(unav)
            .where(unav.c.period == period, unav.c.resolved_at.is_(None))
            .values(resolved_at=now)
        )
        session.commit()


__all__ = [
    "CollectOutcome",
    "PlatformError",
    "collect_progress",
    "insert_ignoring_duplicates",
]
