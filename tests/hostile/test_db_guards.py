"""The database's own guards, probed by SQL as a careless script or a hostile client would
(issue 17, migration 0007), on SQLite and PostgreSQL:

- every append-only table (``LEDGER_TABLES``, cross-checked against the triggers of the
  migrated database) refuses REPLACE, upsert, UPDATE, DELETE and TRUNCATE of a real
  row, made from the schema alone, and the row stays as it was;
- a frozen year's items, indicators, lineage and stamps cannot be changed by SQL;
- a sealed year accepts only entries citing a ruling on the same unit (and indicator).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine

from models.persistence.database import alembic_config, make_engine, session_scope, upgrade_database
from models.persistence.tables import (
    LEDGER_TABLES,
    Appeal,
    AssessmentYear,
    DeductionEntry,
    Indicator,
    IndicatorLineage,
    Item,
    NegativeListEntry,
    ResultEntry,
    Ruling,
    Unit,
    WarningEntry,
    table_of,
)
from tasks.appeals.publish import publish_year
from tasks.bulk import bulk_insert
from tests.fixtures.databases import BACKEND
from tests.hostile.rows import NOW, RowMaker, changed_expression, schema_table, unique_keys

pytestmark = pytest.mark.db


def _refused(engine: Engine, sql: str, params: dict[str, Any] | None = None) -> str | None:
    """Run ``sql`` in its own transaction: the database's refusal, or None if it took it."""
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params or {})
    except sa.exc.DatabaseError as exc:
        return str(exc.orig)
    return None


def _snapshot(engine: Engine, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params or {})]


def _guarded_by_triggers(engine: Engine) -> set[str]:
    """The tables the migrated database refuses UPDATE on as ledgers."""
    if engine.dialect.name == "sqlite":
        sql = (
            "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
            "AND name = tbl_name || '_no_update'"
        )
    else:
        sql = (
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = 'refuse_ledger_change'"
        )
    return {name for (name,) in _snapshot(engine, sql)}


# ------------------------------------------------------------------ append-only tables


def test_the_database_guards_as_append_only_exactly_the_ledger_tables(engine: Engine) -> None:
    assert _guarded_by_triggers(engine) == set(LEDGER_TABLES)
    if engine.dialect.name == "sqlite":
        replace_guards = _snapshot(
            engine,
            "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
            "AND name = tbl_name || '_no_replace'",
        )
        assert {name for (name,) in replace_guards} == set(LEDGER_TABLES)


def _attacks(engine: Engine, table: str) -> list[tuple[str, str]]:
    """(what, SQL) of every way to change or remove the row ``:id`` of ``table``."""
    schema = schema_table(table)
    columns = [c.name for c in schema.columns]
    column, changed = changed_expression(schema)
    _, from_excluded = changed_expression(schema, "excluded.")
    select = ", ".join(changed if c == column else c for c in columns)
    names = ", ".join(columns)
    attacks = [
        ("UPDATE", f"UPDATE {table} SET {column} = {changed} WHERE id = :id"),
        ("DELETE", f"DELETE FROM {table} WHERE id = :id"),
        ("DELETE of the whole table", f"DELETE FROM {table}"),
        (
            "upsert (ON CONFLICT DO UPDATE)",
            f"INSERT INTO {table} ({names}) SELECT {select} FROM {table} WHERE id = :id "
            f"ON CONFLICT (id) DO UPDATE SET {column} = {from_excluded}",
        ),
    ]
    if engine.dialect.name == "postgresql":
        attacks += [
            ("TRUNCATE", f"TRUNCATE {table}"),
            ("TRUNCATE ... CASCADE", f"TRUNCATE {table} CASCADE"),
        ]
        return attacks
    attacks += [
        ("INSERT OR REPLACE", f"INSERT OR REPLACE INTO {table} ({names}) "
                              f"SELECT {select} FROM {table} WHERE id = :id"),
        ("REPLACE", f"REPLACE INTO {table} ({names}) SELECT {select} FROM {table} WHERE id = :id"),
        ("UPDATE OR REPLACE", f"UPDATE OR REPLACE {table} SET {column} = {changed} "
                              "WHERE id = :id"),
    ]  # fmt: skip
    without_id = [c for c in columns if c != "id"]
    for key in unique_keys(schema):  # REPLACE over a unique key deletes the row holding it
        chosen = ", ".join(changed if c == column else c for c in without_id)
        attacks.append(
            (
                f"INSERT OR REPLACE over the unique key {key}",
                f"INSERT OR REPLACE INTO {table} ({', '.join(without_id)}) "
                f"SELECT {chosen} FROM {table} WHERE id = :id",
            )
        )
    return attacks


@pytest.mark.parametrize("table", LEDGER_TABLES)
def test_every_append_only_table_refuses_every_change_to_a_real_row(
    engine: Engine, table: str
) -> None:
    with engine.begin() as conn:
        row_id = RowMaker(conn).row(table)["id"]
    row = f"SELECT * FROM {table} WHERE id = :id"
    before = _snapshot(engine, row, {"id": row_id})
    taken = [
        what
        for what, sql in _attacks(engine, table)
        if _refused(engine, sql, {"id": row_id}) is None
    ]
    assert taken == [], f"{table} took: {taken}"
    assert _snapshot(engine, row, {"id": row_id}) == before
    assert _snapshot(engine, f"SELECT count(*) FROM {table}") == [(1,)]


only_on_sqlite = pytest.mark.skipif(
    BACKEND != "sqlite",
    reason="REPLACE is SQLite's: PostgreSQL has none (its upsert is probed above)",
)


@pytest.fixture
def sqlite_path(engine: Engine) -> str:
    assert engine.url.database is not None
    return engine.url.database


@only_on_sqlite
def test_a_raw_sqlite3_connection_without_pragmas_cannot_replace_a_ledger_row(
    engine: Engine, sqlite_path: str
) -> None:
    with engine.connect() as conn:  # the project's engine turns recursive triggers on too
        assert conn.exec_driver_sql("PRAGMA recursive_triggers").scalar() == 1
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        maker = RowMaker(conn)
        for table in LEDGER_TABLES:
            ids[table] = maker.row(table)["id"]
    raw = sqlite3.connect(sqlite_path)
    try:
        assert raw.execute("PRAGMA recursive_triggers").fetchone() == (0,)
        for table in LEDGER_TABLES:
            schema = schema_table(table)
            column, changed = changed_expression(schema)
            names = [c.name for c in schema.columns]
            select = ", ".join(changed if c == column else c for c in names)
            before = raw.execute(f"SELECT * FROM {table}").fetchall()
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute(
                    f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) "
                    f"SELECT {select} FROM {table} WHERE id = ?",
                    (ids[table],),
                )
            raw.rollback()
            assert raw.execute(f"SELECT * FROM {table}").fetchall() == before, table
    finally:
        raw.close()


# --------------------------------------------------------------------------- frozen year


def _catalog(engine: Engine) -> dict[str, int]:
    """Years 2026 (frozen) and 2027 (open), each with an item, two indicators and a lineage
    edge; the ids by name."""
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        for year in (2026, 2027):
            session.add(AssessmentYear(year=year, name=str(year), rules={}))
            session.flush()
            item = Item(year=year, code="K01", name="高质量发展", status="approved")
            session.add(item)
            session.flush()
            assert item.id is not None
            ids[f"item{year}"] = item.id
            for code in ("fai", "fai_old"):
                indicator = Indicator(year=year, code=code, item_id=item.id, name="固定资产投资",
                                      weight=Decimal("12"), direction="increase",
                                      target=Decimal("120"), baseline=Decimal("100"))  # fmt: skip
                session.add(indicator)
                session.flush()
                assert indicator.id is not None
                ids[f"{code}{year}"] = indicator.id
            edge = IndicatorLineage(
                indicator_id=ids[f"fai{year}"],
                source_id=ids[f"fai_old{year}"],
                relation="merged_from",
            )
            session.add(edge)
        frozen = session.get(AssessmentYear, 2026)
        assert frozen is not None
        frozen.frozen_at = NOW
    return ids


CATALOG_DUMP = (
    "SELECT 'year', year, name, rules, frozen_at, published_at FROM assessment_year",
    "SELECT * FROM item ORDER BY id",
    "SELECT * FROM indicator ORDER BY id",
    "SELECT * FROM indicator_lineage ORDER BY id",
)


def _dump(engine: Engine) -> list[list[Any]]:
    return [[repr(v) for v in _snapshot(engine, sql)] for sql in CATALOG_DUMP]


def _frozen_attacks(engine: Engine, ids: dict[str, int]) -> list[str]:
    item, fai, old = ids["item2026"], ids["fai2026"], ids["fai_old2026"]
    attacks = [
        f"UPDATE indicator SET weight = weight + 1 WHERE id = {fai}",
        f"UPDATE indicator SET target = 1 WHERE id = {fai}",
        f"UPDATE indicator SET baseline = 1 WHERE id = {fai}",
        f"""UPDATE indicator SET plan = '["1"]' WHERE id = {fai}""",
        f"UPDATE indicator SET lifecycle = 'simplified' WHERE id = {old}",
        f"UPDATE indicator SET year = 2027, code = 'moved' WHERE id = {fai}",
        f"UPDATE indicator SET year = 2026, code = 'moved' WHERE id = {ids['fai2027']}",
        f"DELETE FROM indicator WHERE id = {old}",
        f"INSERT INTO indicator (year, code, item_id, name, weight, direction, unit_of_measure, "
        f"milestones, categories, source_field, lifecycle, reason) VALUES (2026, 'new', {item}, "
        "'新指标', 5, 'increase', '', '[]', '[]', '', 'active', '')",
        f"UPDATE item SET status = 'rejected' WHERE id = {item}",
        f"UPDATE item SET key = NOT key WHERE id = {item}",
        f"DELETE FROM item WHERE id = {item}",
        "INSERT INTO item (year, code, name, key, status, decided_by, document_ref, note) "
        "VALUES (2026, 'K99', '新事项', false, 'approved', '', '', '')",
        f"UPDATE indicator_lineage SET relation = 'adapted_from' WHERE indicator_id = {fai}",
        f"DELETE FROM indicator_lineage WHERE indicator_id = {fai}",
        "INSERT INTO indicator_lineage (indicator_id, source_id, relation) "
        f"VALUES ({old}, {fai}, 'merged_from')",
        "UPDATE assessment_year SET frozen_at = NULL WHERE year = 2026",
        "UPDATE assessment_year SET frozen_at = CURRENT_TIMESTAMP WHERE year = 2026",
        "UPDATE assessment_year SET published_at = NULL WHERE year = 2026",
        "UPDATE assessment_year SET published_at = CURRENT_TIMESTAMP WHERE year = 2026",
        "UPDATE assessment_year SET year = 2030 WHERE year = 2026",
        "DELETE FROM assessment_year WHERE year = 2026",
        f"INSERT INTO indicator SELECT * FROM indicator WHERE id = {fai} "
        "ON CONFLICT (id) DO UPDATE SET weight = excluded.weight + 1",
        f"INSERT INTO item SELECT * FROM item WHERE id = {item} "
        "ON CONFLICT (id) DO UPDATE SET status = 'rejected'",
        "INSERT INTO assessment_year SELECT * FROM assessment_year WHERE year = 2026 "
        "ON CONFLICT (year) DO UPDATE SET frozen_at = NULL, published_at = NULL",
    ]
    if engine.dialect.name == "postgresql":
        tables = ("indicator_lineage", "indicator", "item", "assessment_year")
        return [*attacks, *(f"TRUNCATE {t} CASCADE" for t in tables)]
    return [
        *attacks,
        "INSERT OR REPLACE INTO assessment_year (year, name, rules) VALUES (2026, '2026', '{}')",
        f"INSERT OR REPLACE INTO indicator SELECT * FROM indicator WHERE id = {fai}",
        f"REPLACE INTO item SELECT * FROM item WHERE id = {item}",
        f"INSERT OR REPLACE INTO indicator_lineage (indicator_id, source_id, relation) "
        f"VALUES ({fai}, {old}, 'merged_from')",
        f"UPDATE OR REPLACE indicator SET code = 'fai' WHERE id = {old}",
    ]


def test_sql_cannot_change_a_frozen_years_items_indicators_lineage_or_stamps(
    engine: Engine,
) -> None:
    ids = _catalog(engine)
    with session_scope(engine) as session:  # NULL → a time: publishing stays possible
        publish_year(session, 2026, NOW)
    before = _dump(engine)
    taken = [sql for sql in _frozen_attacks(engine, ids) if _refused(engine, sql) is None]
    assert taken == []
    assert _dump(engine) == before


@only_on_sqlite
def test_a_raw_sqlite3_connection_cannot_replace_a_frozen_years_rows(
    engine: Engine, sqlite_path: str
) -> None:
    ids = _catalog(engine)
    fai, old, item = ids["fai2026"], ids["fai_old2026"], ids["item2026"]
    before = _dump(engine)
    raw = sqlite3.connect(sqlite_path)
    try:
        assert raw.execute("PRAGMA recursive_triggers").fetchone() == (0,)
        for sql in (
            "INSERT OR REPLACE INTO assessment_year (year, name, rules) VALUES (2026, '', '{}')",
            "UPDATE OR REPLACE assessment_year SET year = 2026 WHERE year = 2027",
            f"INSERT OR REPLACE INTO indicator SELECT * FROM indicator WHERE id = {fai}",
            f"UPDATE OR REPLACE indicator SET id = {fai} WHERE id = {ids['fai2027']}",
            f"UPDATE OR REPLACE item SET id = {item} WHERE id = {ids['item2027']}",
            f"REPLACE INTO item SELECT * FROM item WHERE id = {item}",
            "UPDATE OR REPLACE indicator_lineage SET id = "
            f"(SELECT id FROM indicator_lineage WHERE indicator_id = {fai}) "
            f"WHERE indicator_id = {ids['fai2027']}",
            "INSERT OR REPLACE INTO indicator_lineage (indicator_id, source_id, relation) "
            f"VALUES ({fai}, {old}, 'merged_from')",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="frozen"):
                raw.execute(sql)
            raw.rollback()
    finally:
        raw.close()
    assert _dump(engine) == before


def test_a_frozen_years_refusals_say_the_year_is_frozen(engine: Engine) -> None:
    ids = _catalog(engine)
    message = _refused(engine, f"UPDATE indicator SET weight = 0 WHERE id = {ids['fai2026']}")
    assert message is not None and "frozen since its first cycle" in message
    message = _refused(engine, "UPDATE assessment_year SET frozen_at = NULL WHERE year = 2026")
    assert message is not None and "keeps its year, frozen_at and published_at" in message


def test_an_open_years_catalog_still_changes_and_a_year_is_frozen_once(engine: Engine) -> None:
    ids = _catalog(engine)
    for sql in (
        f"UPDATE indicator SET weight = 20, target = 150 WHERE id = {ids['fai2027']}",
        f"UPDATE item SET status = 'filed' WHERE id = {ids['item2027']}",
        f"DELETE FROM indicator_lineage WHERE indicator_id = {ids['fai2027']}",
        "UPDATE assessment_year SET name = '2026年度' WHERE year = 2026",
    ):
        assert _refused(engine, sql) is None, sql
    with session_scope(engine) as session:
        year = session.get(AssessmentYear, 2027)
        assert year is not None
        year.frozen_at = NOW
    assert _refused(engine, "UPDATE item SET status = 'approved' WHERE year = 2027") is not None


# --------------------------------------------------------------------------- sealed year


def _sealed_year(engine: Engine) -> dict[str, int]:
    """2026 published; units u1, u3 (category A) and u2 (B); indicators i1, i2; rulings
    r1 on (u1, i1) and r2 on (u2, i2)."""
    ids: dict[str, int] = {}
    with session_scope(engine) as session:
        session.add(AssessmentYear(year=2026, name="2026", rules={}))
        for name, category in (("u1", "A"), ("u2", "B"), ("u3", "A")):
            unit = Unit(code=name, name=name, kind="county", category=category)
            session.add(unit)
            session.flush()
            assert unit.id is not None
            ids[name] = unit.id
        # Core inserts naming their columns: the downgrade test runs this on an older schema
        item_sql = sa.insert(table_of(Item)).values(
            year=2026, code="K01", name="事项", status="approved"
        )
        item_id = session.execute(item_sql).inserted_primary_key[0]
        for name in ("i1", "i2"):
            indicator_sql = sa.insert(table_of(Indicator)).values(
                year=2026,
                code=name,
                item_id=item_id,
                name=name,
                weight=Decimal(10),
                direction="increase",
                milestones=[],
                categories=[],
            )
            ids[name] = session.execute(indicator_sql).inserted_primary_key[0]
        for ruling, unit, indicator in (("r1", "u1", "i1"), ("r2", "u2", "i2")):
            appeal = Appeal(platform_id=ruling, unit_id=ids[unit], indicator_id=ids[indicator],
                            period="2026-12", kind="other", reason="测试", filed_at=NOW,
                            received_at=NOW, status="ruled")  # fmt: skip
            session.add(appeal)
            session.flush()
            assert appeal.id is not None
            row = Ruling(appeal_id=appeal.id, kind="waived", reason="测试", ruled_at=NOW,
                         effective_at=NOW)  # fmt: skip
            session.add(row)
            session.flush()
            assert row.id is not None
            ids[ruling] = row.id
        publish_year(session, 2026, datetime(2027, 1, 25, tzinfo=UTC))
    return ids


def _entry(table: str, ids: dict[str, int], unit: str, ruling: str | None, **extra: Any) -> Any:
    common: dict[str, Any] = {"unit_id": ids[unit], "created_at": NOW,
                              "ruling_id": None if ruling is None else ids[ruling]}  # fmt: skip
    indicator = ids[extra.pop("indicator", "i1")]
    if table == "deduction_entry":
        return DeductionEntry(year=2026, period="2026-12", indicator_id=indicator, kind="adjusted",
                              amount=Decimal("-1.00"), level="red", **common)  # fmt: skip
    if table == "warning_entry":
        return WarningEntry(period="2026-12", indicator_id=indicator, level="green", **common)
    if table == "negative_list_entry":
        return NegativeListEntry(period="2026-12", event="off", **common)
    return ResultEntry(cycle="annual_assessment", period="2026", score=Decimal(90),
                       deductions=Decimal(1), total_weight=Decimal(10), rank=1,
                       category=extra.get("category", "A"), **common)  # fmt: skip


SEALED_CASES = {
    # table: (refused entries, accepted entries), each (unit, ruling, extra)
    "deduction_entry": (
        [("u1", None, {}), ("u1", "r2", {}), ("u1", "r1", {"indicator": "i2"}),
         ("u2", "r1", {})],
        [("u1", "r1", {})],
    ),
    "warning_entry": (
        [("u1", None, {}), ("u1", "r2", {}), ("u1", "r1", {"indicator": "i2"})],
        [("u1", "r1", {})],
    ),
    "negative_list_entry": ([("u1", None, {}), ("u1", "r2", {}), ("u3", "r1", {})],
                            [("u1", "r1", {})]),
    "result_entry": (
        [("u1", None, {}), ("u1", "r2", {}), ("u2", "r1", {"category": "B"})],
        [("u1", "r1", {}), ("u3", "r1", {})],  # a ruling re-ranks its unit's category
    ),
}  # fmt: skip


@pytest.mark.parametrize("table", sorted(SEALED_CASES))
def test_a_sealed_year_takes_only_entries_citing_a_ruling_on_the_same_unit_and_indicator(
    engine: Engine, table: str
) -> None:
    ids = _sealed_year(engine)
    refused, accepted = SEALED_CASES[table]
    for unit, ruling, extra in refused:
        with pytest.raises(sa.exc.DatabaseError, match="is sealed"), session_scope(engine) as s:
            s.add(_entry(table, ids, unit, ruling, **extra))
    assert _snapshot(engine, f"SELECT count(*) FROM {table}") == [(0,)]
    for unit, ruling, extra in accepted:
        with session_scope(engine) as session:
            session.add(_entry(table, ids, unit, ruling, **extra))
    assert _snapshot(engine, f"SELECT count(*) FROM {table}") == [(len(accepted),)]


def test_a_bulk_batch_with_one_entry_citing_another_units_ruling_is_refused_whole(
    engine: Engine,
) -> None:
    ids = _sealed_year(engine)
    columns = ("year", "period", "unit_id", "indicator_id", "kind", "stage", "amount", "level",
               "ruling_id", "note", "created_at")  # fmt: skip
    good = (2026, "2026-12", ids["u1"], ids["i1"], "adjusted", "final", Decimal("-1"), "red",
            ids["r1"], "", NOW)  # fmt: skip
    bad = (*good[:8], ids["r2"], "", NOW)
    with pytest.raises(sa.exc.DatabaseError, match="is sealed"), session_scope(engine) as s:
        bulk_insert(s.connection(), table_of(DeductionEntry), columns, [good, bad])
    assert _snapshot(engine, "SELECT count(*) FROM deduction_entry") == [(0,)]
    with session_scope(engine) as session:
        assert bulk_insert(session.connection(), table_of(DeductionEntry), columns, [good]) == 1


# ----------------------------------------------------------------------------- migration


def _add_before_0012(session: Any, entry: Any) -> None:
    """Insert a ledger entry on a schema older than 0012 (no ``revision_id`` column)."""
    values = entry.model_dump(exclude={"id", "revision_id"})
    session.execute(sa.insert(table_of(type(entry))).values(**values))


def test_the_guards_migration_downgrades_to_0005_and_upgrades_again(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)
    command.downgrade(alembic_config(empty_db_url), "0005")
    engine = make_engine(empty_db_url)
    try:
        ids = _sealed_year(engine)
        # 0001's triggers stay (catalog_revision comes with 0010)
        assert _guarded_by_triggers(engine) == set(LEDGER_TABLES) - {"catalog_revision"}
        with (  # 0002/0004's seal is back
            pytest.raises(sa.exc.DatabaseError, match="only entries from a ruling are"),
            session_scope(engine) as session,
        ):
            _add_before_0012(session, _entry("deduction_entry", ids, "u1", None))
        with session_scope(engine) as session:  # and so is its hole
            _add_before_0012(session, _entry("deduction_entry", ids, "u1", "r2"))
    finally:
        engine.dispose()
    upgrade_database(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with pytest.raises(sa.exc.DatabaseError, match="is sealed"), session_scope(engine) as s:
            s.add(_entry("deduction_entry", ids, "u1", "r2"))
        assert _refused(engine, "UPDATE assessment_year SET published_at = NULL") is not None
    finally:
        engine.dispose()
