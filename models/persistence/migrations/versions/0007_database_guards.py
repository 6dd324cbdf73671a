"""database guards: no REPLACE on a ledger, a frozen year's catalog and stamps kept,
a sealed year's entries tied to their ruling

Three holes closed in the database itself, on both backends (issue 17):

1. SQLite's ``INSERT OR REPLACE`` over an existing ledger row deleted it without firing
   the DELETE trigger (unless ``recursive_triggers`` is on). Each ledger gets a BEFORE
   INSERT trigger ``<table>_no_replace`` that refuses a row whose primary or unique key
   is taken (``models.persistence.database.ledger_replace_guard_sql``). The ledgers are every table
   of ``LEDGER_TABLES`` present when this revision runs; their keys are read from the
   database. PostgreSQL has no REPLACE; its ``ON CONFLICT DO UPDATE`` fires the UPDATE
   trigger, refused since 0001.
2. A frozen year (``assessment_year.frozen_at`` set, its first cycle has run): its items,
   indicators and their lineage can no longer be inserted, updated or deleted (SQLite's
   REPLACE over one of its rows included); ``frozen_at`` and ``published_at`` go from
   NULL to a time once and never change again; a frozen or published year is neither
   renumbered, deleted nor replaced; on PostgreSQL TRUNCATE of these tables is refused
   while such a year exists. (Its ``rules`` are guarded since 0001; its name may change.)
3. A sealed year (``published_at`` set) accepted an entry citing any ruling. Now an
   entry must cite a ruling whose appeal is of the entry's unit, and:
   - ``deduction_entry``, ``warning_entry``: the entry's (unit, indicator) has been ruled
     on (by this ruling or another of the unit's: a recomputation re-derives every ruled
     indicator of the unit and books them all under the ruling it runs for);
   - ``result_entry``: or the ruling's unit is in the entry's category (a ruling re-ranks
     its unit's whole category);
   - ``negative_list_entry``: the unit alone.
   SQLite's triggers become one WHEN condition with a fixed message (0002's ran a CASE
   of 100 years to name the year; SQLite before 3.47 takes only a literal message);
   PostgreSQL keeps 0004's one check per statement and names the year.

Independent of 0006: it adds and drops only its own triggers and functions, and guards
the ledgers present when it runs.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02 16:00:00.000000
"""

import importlib
from collections.abc import Sequence
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from models.persistence.database import ledger_replace_guard_sql
from models.persistence.tables import LEDGER_TABLES

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ----------------------------------------------------------------- 1. no REPLACE


def _keys(inspector: sa.Inspector, table: str) -> list[tuple[str, ...]]:
    """The table's primary key and unique keys (constraints and unique indexes)."""
    keys = [tuple(inspector.get_pk_constraint(table)["constrained_columns"])]
    keys += [tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)]
    keys += [
        tuple(str(c) for c in i["column_names"])
        for i in inspector.get_indexes(table)
        if i["unique"]
    ]
    return list(dict.fromkeys(k for k in keys if k))


def _ledgers(inspector: sa.Inspector) -> list[str]:
    present = set(inspector.get_table_names())
    return [t for t in LEDGER_TABLES if t in present]


# ---------------------------------------------------------------- 2. frozen year

FROZEN_TABLES = ("item", "indicator", "indicator_lineage")
FROZEN = "is frozen since its first cycle"


def _sqlite_frozen_year(row: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM assessment_year WHERE year = {row}.year AND frozen_at IS NOT NULL)"
    )


def _sqlite_frozen_lineage(row: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM indicator i JOIN assessment_year y ON y.year = i.year "
        f"WHERE i.id IN ({row}.indicator_id, {row}.source_id) AND y.frozen_at IS NOT NULL)"
    )


def _sqlite_frozen_sql() -> list[str]:
    statements: list[str] = []
    for table in FROZEN_TABLES:
        if table == "indicator_lineage":
            old, new = _sqlite_frozen_lineage("OLD"), _sqlite_frozen_lineage("NEW")
            replaced = (
                "EXISTS (SELECT 1 FROM indicator_lineage l JOIN indicator i "
                "ON i.id IN (l.indicator_id, l.source_id) JOIN assessment_year y "
                "ON y.year = i.year WHERE l.id = NEW.id AND y.frozen_at IS NOT NULL)"
            )
        else:
            old, new = _sqlite_frozen_year("OLD"), _sqlite_frozen_year("NEW")
            replaced = (
                f"EXISTS (SELECT 1 FROM {table} r JOIN assessment_year y ON y.year = r.year "
                "WHERE r.id = NEW.id AND y.frozen_at IS NOT NULL)"
            )
        conditions = {  # ``replaced``: REPLACE over another row (INSERT OR / UPDATE OR)
            "INSERT": f"{new} OR {replaced}",
            "UPDATE": f"{old} OR {new} OR {replaced}",
            "DELETE": old,
        }
        for op_name, condition in conditions.items():
            statements.append(
                f"CREATE TRIGGER {table}_frozen_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"WHEN {condition} BEGIN SELECT RAISE(ABORT, "
                f"'the year of this {table} row {FROZEN}: {op_name} refused'); END"
            )
    kept = "OLD.frozen_at IS NOT NULL OR OLD.published_at IS NOT NULL"
    statements += [
        "CREATE TRIGGER assessment_year_stamps BEFORE UPDATE ON assessment_year WHEN "
        "(OLD.frozen_at IS NOT NULL AND NEW.frozen_at IS NOT OLD.frozen_at) OR "
        "(OLD.published_at IS NOT NULL AND NEW.published_at IS NOT OLD.published_at) OR "
        f"(({kept}) AND NEW.year IS NOT OLD.year) OR "
        "(NEW.year IS NOT OLD.year AND EXISTS (SELECT 1 FROM assessment_year WHERE "
        "year = NEW.year AND (frozen_at IS NOT NULL OR published_at IS NOT NULL))) "
        "BEGIN SELECT RAISE(ABORT, 'a frozen or published year keeps its year, frozen_at "
        "and published_at: UPDATE refused'); END",
        f"CREATE TRIGGER assessment_year_kept_delete BEFORE DELETE ON assessment_year WHEN {kept} "
        "BEGIN SELECT RAISE(ABORT, 'a frozen or published year is kept: DELETE refused'); END",
        "CREATE TRIGGER assessment_year_kept_insert BEFORE INSERT ON assessment_year WHEN "
        "EXISTS (SELECT 1 FROM assessment_year WHERE year = NEW.year AND "
        "(frozen_at IS NOT NULL OR published_at IS NOT NULL)) "
        "BEGIN SELECT RAISE(ABORT, 'a frozen or published year is kept: INSERT over it "
        "(REPLACE) refused'); END",
    ]
    return statements


def _sqlite_frozen_drop() -> list[str]:
    names = [f"{t}_frozen_{o}" for t in FROZEN_TABLES for o in ("insert", "update", "delete")]
    names += [
        "assessment_year_stamps",
        "assessment_year_kept_delete",
        "assessment_year_kept_insert",
    ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]


def _pg_frozen_sql() -> list[str]:
    year_of = {
        "item": "SELECT a.year INTO frozen FROM assessment_year a "
        "WHERE a.year = {row}.year AND a.frozen_at IS NOT NULL",
        "indicator": "SELECT a.year INTO frozen FROM assessment_year a "
        "WHERE a.year = {row}.year AND a.frozen_at IS NOT NULL",
        "indicator_lineage": "SELECT a.year INTO frozen FROM indicator i "
        "JOIN assessment_year a ON a.year = i.year "
        "WHERE i.id IN ({row}.indicator_id, {row}.source_id) AND a.frozen_at IS NOT NULL "
        "ORDER BY a.year LIMIT 1",
    }
    statements: list[str] = []
    for table, lookup in year_of.items():
        statements.append(
            f"""
            CREATE OR REPLACE FUNCTION refuse_frozen_{table}_change() RETURNS trigger AS $$
            DECLARE
                frozen integer;
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') THEN
                    {lookup.format(row="OLD")};
                END IF;
                IF frozen IS NULL AND TG_OP IN ('INSERT', 'UPDATE') THEN
                    {lookup.format(row="NEW")};
                END IF;
                IF frozen IS NOT NULL THEN
                    RAISE EXCEPTION 'year % {FROZEN}: % on % refused', frozen, TG_OP, TG_TABLE_NAME
                        USING ERRCODE = 'raise_exception';
                END IF;
                IF TG_OP = 'DELETE' THEN
                    RETURN OLD;
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        statements.append(
            f"CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION refuse_frozen_{table}_change()"
        )
    statements += [
        """
        CREATE OR REPLACE FUNCTION refuse_year_stamp_change() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF OLD.frozen_at IS NOT NULL OR OLD.published_at IS NOT NULL THEN
                    RAISE EXCEPTION 'year % is frozen or published: it is kept, DELETE refused',
                        OLD.year USING ERRCODE = 'raise_exception';
                END IF;
                RETURN OLD;
            END IF;
            IF (OLD.frozen_at IS NOT NULL AND NEW.frozen_at IS DISTINCT FROM OLD.frozen_at)
               OR (OLD.published_at IS NOT NULL
                   AND NEW.published_at IS DISTINCT FROM OLD.published_at)
               OR ((OLD.frozen_at IS NOT NULL OR OLD.published_at IS NOT NULL)
                   AND NEW.year IS DISTINCT FROM OLD.year) THEN
                RAISE EXCEPTION
                    'year % is frozen or published: it keeps its year, frozen_at and published_at, UPDATE refused',
                    OLD.year USING ERRCODE = 'raise_exception';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """,
        "CREATE TRIGGER assessment_year_stamps BEFORE UPDATE OR DELETE ON assessment_year "
        "FOR EACH ROW EXECUTE FUNCTION refuse_year_stamp_change()",
        f"""
        CREATE OR REPLACE FUNCTION refuse_frozen_truncate() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM assessment_year
                       WHERE frozen_at IS NOT NULL OR published_at IS NOT NULL) THEN
                RAISE EXCEPTION 'a year {FROZEN} or published: TRUNCATE of % refused',
                    TG_TABLE_NAME USING ERRCODE = 'raise_exception';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """,
    ]
    statements += [
        f"CREATE TRIGGER {table}_frozen_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_frozen_truncate()"
        for table in ("assessment_year", *FROZEN_TABLES)
    ]
    return statements


def _pg_frozen_drop() -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS {t}_frozen ON {t}" for t in FROZEN_TABLES]
    statements += [
        f"DROP TRIGGER IF EXISTS {t}_frozen_truncate ON {t}"
        for t in ("assessment_year", *FROZEN_TABLES)
    ]
    statements.append("DROP TRIGGER IF EXISTS assessment_year_stamps ON assessment_year")
    statements += [f"DROP FUNCTION IF EXISTS refuse_frozen_{t}_change()" for t in FROZEN_TABLES]
    statements += [
        "DROP FUNCTION IF EXISTS refuse_year_stamp_change()",
        "DROP FUNCTION IF EXISTS refuse_frozen_truncate()",
    ]
    return statements


# ---------------------------------------------------------------- 3. sealed year

SEALED_TABLES = ("deduction_entry", "warning_entry", "negative_list_entry", "result_entry")
SEALED = {
    "deduction_entry": "only entries from a ruling on the same unit and indicator are accepted",
    "warning_entry": "only entries from a ruling on the same unit and indicator are accepted",
    "negative_list_entry": "only entries from a ruling on the same unit are accepted",
    "result_entry": "only entries from a ruling on the same unit or its category are accepted",
}


def _year(table: str, row: str) -> str:
    if table == "deduction_entry":
        return f"{row}.year"
    return f"CAST(substr({row}.period, 1, 4) AS INTEGER)"


def _from_ruling(table: str, row: str) -> str:
    """True when ``row`` cites a ruling that concerns it (see the module docstring)."""
    of_unit = (
        "EXISTS (SELECT 1 FROM ruling r JOIN appeal a ON a.id = r.appeal_id "
        f"WHERE r.id = {row}.ruling_id AND a.unit_id = {row}.unit_id)"
    )
    if table == "negative_list_entry":
        return f"{row}.ruling_id IS NOT NULL AND {of_unit}"
    if table == "result_entry":
        return (
            f"{row}.ruling_id IS NOT NULL AND EXISTS (SELECT 1 FROM ruling r "
            "JOIN appeal a ON a.id = r.appeal_id JOIN unit u ON u.id = a.unit_id "
            f"WHERE r.id = {row}.ruling_id "
            f"AND (a.unit_id = {row}.unit_id OR u.category = {row}.category))"
        )
    ruled = (
        "EXISTS (SELECT 1 FROM appeal a JOIN ruling r ON r.appeal_id = a.id "
        f"WHERE a.unit_id = {row}.unit_id AND a.indicator_id = {row}.indicator_id)"
    )
    return f"{row}.ruling_id IS NOT NULL AND {of_unit} AND {ruled}"


def _sqlite_seal_sql() -> list[str]:
    return [
        f"CREATE TRIGGER {table}_sealed_year BEFORE INSERT ON {table} "
        "WHEN EXISTS (SELECT 1 FROM assessment_year "
        f"WHERE year = {_year(table, 'NEW')} AND published_at IS NOT NULL) "
        f"AND NOT ({_from_ruling(table, 'NEW')}) "
        f"BEGIN SELECT RAISE(ABORT, '{table}: the year is sealed: {SEALED[table]}'); END"
        for table in SEALED_TABLES
    ]


def _pg_seal_sql() -> list[str]:
    statements: list[str] = []
    for table in SEALED_TABLES:
        year = _year(table, "n")
        statements.append(
            f"""
            CREATE OR REPLACE FUNCTION refuse_sealed_{table}() RETURNS trigger AS $$
            DECLARE
                sealed integer;
            BEGIN
                -- the statement's years first (one pass, as 0004): most touch no sealed year
                IF NOT EXISTS (SELECT 1 FROM assessment_year y
                               WHERE y.published_at IS NOT NULL
                               AND y.year IN (SELECT DISTINCT {year} FROM new_rows n)) THEN
                    RETURN NULL;
                END IF;
                SELECT y.year INTO sealed
                FROM new_rows n
                JOIN assessment_year y ON y.year = {year} AND y.published_at IS NOT NULL
                WHERE NOT ({_from_ruling(table, "n")})
                ORDER BY y.year LIMIT 1;
                IF sealed IS NOT NULL THEN
                    RAISE EXCEPTION '{table}: year % is sealed: {SEALED[table]}', sealed
                        USING ERRCODE = 'raise_exception';
                END IF;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        statements.append(
            f"CREATE TRIGGER {table}_sealed_year AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION refuse_sealed_{table}()"
        )
    return statements


def _pg_seal_drop() -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {t}_sealed_year ON {t}" for t in SEALED_TABLES] + [
        f"DROP FUNCTION IF EXISTS refuse_sealed_{t}()" for t in SEALED_TABLES
    ]


def _revision(name: str) -> ModuleType:
    return importlib.import_module(f"models.persistence.migrations.versions.{name}")


# ------------------------------------------------------------------------ alembic


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        statements = _pg_frozen_sql()
        statements += [f"DROP TRIGGER IF EXISTS {t}_sealed_year ON {t}" for t in SEALED_TABLES]
        statements += [
            "DROP FUNCTION IF EXISTS refuse_sealed_years_by_year()",
            "DROP FUNCTION IF EXISTS refuse_sealed_years_by_period()",
        ]
        statements += _pg_seal_sql()
    else:
        inspector = sa.inspect(bind)
        statements = [ledger_replace_guard_sql(t, _keys(inspector, t)) for t in _ledgers(inspector)]
        statements += _sqlite_frozen_sql()
        statements += [f"DROP TRIGGER IF EXISTS {t}_sealed_year" for t in SEALED_TABLES]
        statements += _sqlite_seal_sql()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _pg_seal_drop() + _pg_frozen_drop():
            op.execute(statement)
        _revision("0004_seal_check_per_statement").upgrade()  # 0004's seal, as it was
        return
    statements = [f"DROP TRIGGER IF EXISTS {t}_no_replace" for t in LEDGER_TABLES]
    statements += _sqlite_frozen_drop()
    statements += [f"DROP TRIGGER IF EXISTS {t}_sealed_year" for t in SEALED_TABLES]
    statements += _revision("0002_seal_published_years").seal_trigger_sql("sqlite")
    for statement in statements:
        op.execute(statement)
