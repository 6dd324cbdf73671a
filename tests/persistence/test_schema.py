"""The schema: migrations, drift, append-only ledgers enforced by the database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from models.persistence.database import alembic_config, make_engine, upgrade_database
from models.persistence.tables import (
    LEDGER_TABLES,
    AssessmentYear,
    CatalogRevision,
    DeductionEntry,
    DeliveryAttempt,
    Indicator,
    Item,
    Message,
    NegativeListEntry,
    ProblemClosure,
    ProblemEntry,
    ResultEntry,
    Unit,
    WarningEntry,
)

pytestmark = pytest.mark.db
NOW = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)


def test_alembic_upgrade_builds_every_table_on_an_empty_database(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables


def test_the_models_match_the_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_downgrade_to_base_and_upgrade_again_leaves_a_working_schema(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "base")
    engine = make_engine(empty_db_url)
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    assert "deduction_entry" in sa.inspect(engine).get_table_names()
    engine.dispose()


def _catalog_rows(session: Session) -> tuple[Unit, Indicator]:
    session.add(AssessmentYear(year=2026, name="2026", rules={}))
    unit = Unit(code="C01", name="青岚区", kind="county", category="key_development")
    session.add(unit)
    session.flush()
    item = Item(year=2026, code="K01", name="高质量发展", status="approved")
    session.add(item)
    session.flush()
    assert item.id is not None
    indicator = Indicator(
        year=2026,
        code="fai",
        item_id=item.id,
        name="固定资产投资",
        weight=Decimal("12"),
        direction="increase",
        target=Decimal("120"),
        categories=["key_development"],
    )
    session.add(indicator)
    session.flush()
    return unit, indicator


def _book(session: Session, unit: Unit, indicator: Indicator, amount: str) -> DeductionEntry:
    assert unit.id is not None and indicator.id is not None
    entry = DeductionEntry(
        year=2026,
        period="2026-03",
        unit_id=unit.id,
        indicator_id=indicator.id,
        kind="new",
        amount=Decimal(amount),
        level="red",
        created_at=NOW,
    )
    session.add(entry)
    session.flush()
    return entry


def test_a_deduction_entry_round_trips_with_exact_points_and_utc_time(engine: Engine) -> None:
    with Session(engine) as session:
        unit, indicator = _catalog_rows(session)
        _book(session, unit, indicator, "3.61")
        session.commit()
    with Session(engine) as session:
        entry = session.exec(select(DeductionEntry)).one()
        assert entry.amount == Decimal("3.61")
        assert entry.created_at == NOW
        assert entry.created_at.tzinfo is not None


def test_updating_a_booked_deduction_is_refused_by_the_database(engine: Engine) -> None:
    with Session(engine) as session:
        unit, indicator = _catalog_rows(session)
        entry = _book(session, unit, indicator, "2.00")
        session.commit()
        entry_id = entry.id
    with engine.connect() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(
            sa.text("UPDATE deduction_entry SET amount = 0 WHERE id = :id"), {"id": entry_id}
        )
    with engine.connect() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text("DELETE FROM deduction_entry WHERE id = :id"), {"id": entry_id})
    with Session(engine) as session:
        assert session.exec(select(DeductionEntry)).one().amount == Decimal("2.00")


def test_deleting_rows_of_any_ledger_through_the_orm_is_refused(engine: Engine) -> None:
    with Session(engine) as session:
        unit, indicator = _catalog_rows(session)
        _book(session, unit, indicator, "1.50")
        session.commit()
    with Session(engine) as session:
        entry = session.exec(select(DeductionEntry)).one()
        session.delete(entry)
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            session.commit()


def _one_row_of_each_ledger(session: Session) -> dict[str, int]:
    """Insert one valid row into every ledger; return each row's id."""
    unit, indicator = _catalog_rows(session)
    assert unit.id is not None and indicator.id is not None
    deduction = _book(session, unit, indicator, "1.00")
    rows: dict[str, SQLModel] = {"deduction_entry": deduction}
    rows["warning_entry"] = WarningEntry(
        period="2026-03", unit_id=unit.id, indicator_id=indicator.id, level="red", created_at=NOW
    )
    problem = ProblemEntry(
        unit_id=unit.id,
        source="analysis",
        period="2026-03",
        description="台账问题",
        rectify_by=date(2026, 12, 31),
        created_at=NOW,
    )
    session.add(problem)
    session.flush()
    assert problem.id is not None
    rows["problem_entry"] = problem
    rows["problem_closure"] = ProblemClosure(problem_id=problem.id, closed_at=NOW)
    rows["negative_list_entry"] = NegativeListEntry(
        period="2026-03", unit_id=unit.id, event="on", created_at=NOW
    )
    rows["result_entry"] = ResultEntry(
        cycle="half_year_evaluation",
        period="2026-H1",
        unit_id=unit.id,
        category="key_development",
        score=Decimal("96.5"),
        deductions=Decimal("3.5"),
        total_weight=Decimal("100"),
        rank=1,
        created_at=NOW,
    )
    message = Message(
        key="C01:digest:2026-03:abc",
        unit_id=unit.id,
        kind="digest",
        period="2026-03",
        content_hash="abc",
        subject="提醒",
        body_markdown="提醒",
        body_text="提醒",
        body_html="<p>提醒</p>",
        due_at=NOW,
        created_at=NOW,
    )
    session.add(message)
    session.flush()
    assert message.id is not None
    rows["delivery_attempt"] = DeliveryAttempt(
        message_id=message.id, channel="json://…", attempted_at=NOW, outcome="delivered"
    )
    rows["catalog_revision"] = CatalogRevision(
        year=2026,
        document_ref="青考办〔2026〕12号",
        effective_month="2026-07",
        recorded_at=NOW,
        content_hash="abc",
        changes=[],
    )
    for row in rows.values():
        session.add(row)
    session.commit()
    ids = {table: row.id for table, row in rows.items()}  # type: ignore[attr-defined]
    assert set(ids) == set(LEDGER_TABLES)
    return ids


@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_every_ledger_refuses_update_and_delete_of_a_real_row(engine: Engine, table: str) -> None:
    with Session(engine) as session:
        ids = _one_row_of_each_ledger(session)
    with engine.connect() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text(f"UPDATE {table} SET id = id WHERE id = :id"), {"id": ids[table]})
    with engine.connect() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :id"), {"id": ids[table]})
    with engine.connect() as conn:
        count = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    assert count == 1


def test_a_frozen_years_rules_cannot_be_changed_in_the_database(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(AssessmentYear(year=2026, name="2026", rules={"green_threshold": "0.95"}))
        session.commit()
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE assessment_year SET frozen_at = :t WHERE year = 2026"),
            {"t": NOW.replace(tzinfo=None) if engine.dialect.name == "sqlite" else NOW},
        )
    with Session(engine) as session:
        year = session.get(AssessmentYear, 2026)
        assert year is not None
        year.rules = {"green_threshold": "0.90"}
        with pytest.raises(sa.exc.DatabaseError, match="frozen"):
            session.commit()


def test_a_naive_datetime_is_refused_before_it_reaches_the_database(engine: Engine) -> None:
    with Session(engine) as session:
        unit, indicator = _catalog_rows(session)
        assert unit.id is not None and indicator.id is not None
        session.add(
            DeductionEntry(
                year=2026,
                period="2026-03",
                unit_id=unit.id,
                indicator_id=indicator.id,
                kind="new",
                amount=Decimal("1"),
                level="red",
                created_at=datetime(2026, 10, 9, 9, 0),
            )
        )
        with pytest.raises(sa.exc.StatementError, match="naive datetime"):
            session.flush()


def test_a_unit_keeps_its_onboarding_date_and_channels(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            Unit(
                code="D01",
                name="市委办公室",
                kind="department",
                category="party_mass",
                on_platform=True,
                onboarded_on=date(2025, 6, 1),
                channels=["json://127.0.0.1:8790/units/D01"],
            )
        )
        session.commit()
    with Session(make_engine(str(engine.url))) as session:
        unit = session.exec(select(Unit)).one()
        assert unit.onboarded_on == date(2025, 6, 1)
        assert unit.channels == ["json://127.0.0.1:8790/units/D01"]
