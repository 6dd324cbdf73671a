"""A published year is sealed by the database: its ledgers accept only entries that come
from a ruling (migration 0002)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine
from sqlmodel import Session

from models.persistence.database import alembic_config, make_engine, session_scope, upgrade_database
from models.persistence.tables import (
    Appeal,
    AssessmentYear,
    DeductionEntry,
    Indicator,
    NegativeListEntry,
    ResultEntry,
    Ruling,
    Unit,
    WarningEntry,
)
from tasks.appeals.publish import publish_year

pytestmark = pytest.mark.db

NOW = datetime(2027, 1, 25, 2, 0, tzinfo=UTC)
SEALED = "is sealed: only entries from a ruling on the same unit"


def _ids(session: Session) -> tuple[int, int]:
    unit = session.execute(sa.select(Unit).where(Unit.code == "C01")).scalar_one()
    indicator = (
        session.execute(sa.select(Indicator).where(Indicator.year == 2026).order_by(Indicator.id))
        .scalars()
        .first()
    )
    assert unit.id is not None and indicator is not None and indicator.id is not None
    return unit.id, indicator.id


def _ruling(session: Session, unit: int, indicator: int) -> int:
    appeal = Appeal(platform_id="seal-1", unit_id=unit, indicator_id=indicator,
                    period="2026-12", kind="other", reason="测试", filed_at=NOW,
                    received_at=NOW)  # fmt: skip
    session.add(appeal)
    session.flush()
    assert appeal.id is not None
    ruling = Ruling(appeal_id=appeal.id, kind="waived", reason="测试", ruled_at=NOW,
                    effective_at=NOW)  # fmt: skip
    session.add(ruling)
    session.flush()
    assert ruling.id is not None
    return ruling.id


def _entries(unit: int, indicator: int, ruling_id: int | None) -> list[Any]:
    return [
        DeductionEntry(year=2026, period="2026-12", unit_id=unit, indicator_id=indicator,
                       kind="adjusted", amount=Decimal("-1.00"), level="red", created_at=NOW,
                       ruling_id=ruling_id),
        WarningEntry(period="2026-12", unit_id=unit, indicator_id=indicator, level="green",
                     created_at=NOW, ruling_id=ruling_id),
        NegativeListEntry(period="2026-12", unit_id=unit, event="off", created_at=NOW,
                          ruling_id=ruling_id),
        ResultEntry(cycle="annual_assessment", period="2026", unit_id=unit,
                    category="key_development", score=Decimal(90), deductions=Decimal(1),
                    total_weight=Decimal(10), rank=1, grade="excellent", created_at=NOW,
                    ruling_id=ruling_id),
    ]  # fmt: skip


def test_a_sealed_year_refuses_a_plain_ledger_entry_and_accepts_a_rulings(
    catalog_db: Engine,
) -> None:
    engine = catalog_db
    with session_scope(engine) as session:
        unit, indicator = _ids(session)
        ruling_id = _ruling(session, unit, indicator)
        for entry in _entries(unit, indicator, None):  # not yet published: accepted
            session.add(entry)
        first = publish_year(session, 2026, NOW)
        assert publish_year(session, 2026, datetime(2027, 3, 1, tzinfo=UTC)) == first == NOW

    for entry in _entries(unit, indicator, None):
        with Session(engine) as session:
            session.add(entry)
            with pytest.raises(sa.exc.DatabaseError, match=SEALED):
                session.commit()
    with session_scope(engine) as session:
        for entry in _entries(unit, indicator, ruling_id):
            session.add(entry)
    with engine.connect() as conn:
        counts = [
            conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("deduction_entry", "warning_entry", "negative_list_entry", "result_entry")
        ]
    assert counts == [2, 2, 2, 2]


def test_other_years_stay_open_while_one_is_sealed(catalog_db: Engine) -> None:
    engine = catalog_db
    with session_scope(engine) as session:
        unit, indicator = _ids(session)
        publish_year(session, 2025, NOW)
        session.add(
            DeductionEntry(year=2026, period="2026-01", unit_id=unit, indicator_id=indicator,
                           kind="new", amount=Decimal("2.00"), level="red", created_at=NOW)
        )  # fmt: skip
    with pytest.raises(LookupError), session_scope(engine) as session:
        publish_year(session, 2031, NOW)


def _result(unit: int) -> ResultEntry:
    return ResultEntry(
        cycle="annual_assessment",
        period="2026",
        unit_id=unit,
        category="key_development",
        score=Decimal(90),
        deductions=Decimal(1),
        total_weight=Decimal(10),
        rank=1,
        grade="excellent",
        created_at=NOW,
    )


def test_the_seal_migration_downgrades_and_upgrades_again(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "0001")
    engine = make_engine(empty_db_url)
    with session_scope(engine) as session:  # without the seal, a published year takes anything
        session.add(AssessmentYear(year=2026, name="2026", rules={}, published_at=NOW))
        unit = Unit(code="C01", name="青岚区", kind="county", category="key_development")
        session.add(unit)
        session.flush()
        assert unit.id is not None
        unit_id = unit.id
        # the columns of revision 0001 only (later revisions add result versions)
        session.execute(
            sa.text(
                "INSERT INTO result_entry (cycle, period, unit_id, category, score, deductions,"
                " total_weight, rank, grade, created_at) VALUES ('annual_assessment', '2026',"
                " :unit, 'key_development', 90, 1, 10, 1, 'excellent', :at)"
            ),
            {"unit": unit_id, "at": NOW},
        )
    engine.dispose()
    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    with Session(engine) as session:
        session.add(_result(unit_id))
        with pytest.raises(sa.exc.DatabaseError, match=SEALED):
            session.commit()
    engine.dispose()
