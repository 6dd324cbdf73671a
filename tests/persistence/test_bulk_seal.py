"""The seal holds for bulk writes too: a batch with one plain entry of a published year
is refused whole (on PostgreSQL, checked once per statement: migration 0004)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.persistence.tables import DeductionEntry, WarningEntry, table_of
from tasks.appeals.publish import publish_year
from tasks.bulk import bulk_insert

pytestmark = pytest.mark.db

NOW = datetime(2027, 1, 25, 2, 0, tzinfo=UTC)
COLUMNS = ("year", "period", "unit_id", "indicator_id", "kind", "stage", "amount", "level",
           "note", "created_at")  # fmt: skip


def _units_and_indicator(engine: Engine) -> tuple[list[int], int]:
    with engine.connect() as conn:
        units = [u for (u,) in conn.execute(sa.text("SELECT id FROM unit ORDER BY id"))]
        indicator = conn.execute(sa.text("SELECT min(id) FROM indicator")).scalar_one()
    return units, indicator


def test_a_bulk_batch_with_one_entry_of_a_sealed_year_is_refused_whole(
    catalog_db: Engine,
) -> None:
    units, indicator = _units_and_indicator(catalog_db)
    with session_scope(catalog_db) as session:
        publish_year(session, 2025, NOW)
    open_rows = [
        (2026, "2026-03", u, indicator, "new", "pre", Decimal("1.50"), "red", "", NOW)
        for u in units
    ]
    sealed_row = (2025, "2025-12", units[0], indicator, "new", "pre", Decimal(1), "red", "", NOW)
    with (
        pytest.raises(sa.exc.DatabaseError, match="is sealed"),
        session_scope(catalog_db) as session,
    ):
        bulk_insert(
            session.connection(), table_of(DeductionEntry), COLUMNS, [*open_rows, sealed_row]
        )
    with session_scope(catalog_db) as session:
        assert bulk_insert(session.connection(), table_of(DeductionEntry), COLUMNS, open_rows)
    warnings = [("2025-12", units[1], indicator, "red", NOW)]
    with (
        pytest.raises(sa.exc.DatabaseError, match="is sealed"),
        session_scope(catalog_db) as session,
    ):
        bulk_insert(
            session.connection(),
            table_of(WarningEntry),
            ("period", "unit_id", "indicator_id", "level", "created_at"),
            warnings,
        )
    with catalog_db.connect() as conn:
        years = conn.execute(sa.text("SELECT DISTINCT year FROM deduction_entry")).all()
        count = conn.execute(sa.text("SELECT COUNT(*) FROM deduction_entry")).scalar_one()
    assert [tuple(y) for y in years] == [(2026,)]
    assert count == len(units)
