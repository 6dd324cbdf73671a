"""seal published years: their ledgers accept only entries that come from a ruling

Once a year's annual results are published (``assessment_year.published_at`` set),
an INSERT into ``deduction_entry``, ``warning_entry``, ``negative_list_entry`` or
``result_entry`` for that year without a ``ruling_id`` is refused by the database
with ``year YYYY is sealed: only entries from a ruling are accepted``. The year is
``deduction_entry.year``, otherwise the first four characters of ``period``
(2026-03, 2026-H1, 2026).

PostgreSQL: one trigger function per way of finding the year, raising with the year.
SQLite (whose RAISE takes only a literal message before 3.47): the message is
chosen by a CASE over the years 2000–2099; other years get the same sentence
without the number.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "is sealed: only entries from a ruling are accepted"
PERIOD_TABLES = ("warning_entry", "negative_list_entry", "result_entry")
SQLITE_YEARS = range(2000, 2100)


def _year_expression(table: str, row: str = "NEW") -> str:
    if table == "deduction_entry":
        return f"{row}.year"
    return f"CAST(substr({row}.period, 1, 4) AS INTEGER)"


def seal_trigger_sql(dialect: str) -> list[str]:
    """DDL of the triggers that seal published years."""
    if dialect == "postgresql":
        statements = [
            f"""
            CREATE OR REPLACE FUNCTION refuse_sealed_year_by_year() RETURNS trigger AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM assessment_year
                           WHERE year = NEW.year AND published_at IS NOT NULL) THEN
                    RAISE EXCEPTION 'year % {MESSAGE}', NEW.year
                        USING ERRCODE = 'raise_exception';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """,
            f"""
            CREATE OR REPLACE FUNCTION refuse_sealed_year_by_period() RETURNS trigger AS $$
            DECLARE
                entry_year integer := CAST(substring(NEW.period from 1 for 4) AS integer);
            BEGIN
                IF EXISTS (SELECT 1 FROM assessment_year
                           WHERE year = entry_year AND published_at IS NOT NULL) THEN
                    RAISE EXCEPTION 'year % {MESSAGE}', entry_year
                        USING ERRCODE = 'raise_exception';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """,
            "CREATE TRIGGER deduction_entry_sealed_year BEFORE INSERT ON deduction_entry "
            "FOR EACH ROW WHEN (NEW.ruling_id IS NULL) "
            "EXECUTE FUNCTION refuse_sealed_year_by_year()",
        ]
        statements += [
            f"CREATE TRIGGER {table}_sealed_year BEFORE INSERT ON {table} "
            "FOR EACH ROW WHEN (NEW.ruling_id IS NULL) "
            "EXECUTE FUNCTION refuse_sealed_year_by_period()"
            for table in PERIOD_TABLES
        ]
        return statements
    if dialect == "sqlite":
        statements = []
        for table in ("deduction_entry", *PERIOD_TABLES):
            year = _year_expression(table)
            branches = " ".join(
                f"WHEN {y} THEN RAISE(ABORT, 'year {y} {MESSAGE}')" for y in SQLITE_YEARS
            )
            statements.append(
                f"CREATE TRIGGER {table}_sealed_year BEFORE INSERT ON {table} "
                f"WHEN NEW.ruling_id IS NULL AND EXISTS (SELECT 1 FROM assessment_year "
                f"WHERE year = {year} AND published_at IS NOT NULL) "
                f"BEGIN SELECT CASE {year} {branches} "
                f"ELSE RAISE(ABORT, 'this year {MESSAGE}') END; END"
            )
        return statements
    raise ValueError(f"unsupported database dialect {dialect!r}")


def drop_seal_trigger_sql(dialect: str) -> list[str]:
    tables = ("deduction_entry", *PERIOD_TABLES)
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {t}_sealed_year ON {t}" for t in tables] + [
            "DROP FUNCTION IF EXISTS refuse_sealed_year_by_year()",
            "DROP FUNCTION IF EXISTS refuse_sealed_year_by_period()",
        ]
    return [f"DROP TRIGGER IF EXISTS {t}_sealed_year" for t in tables]


def upgrade() -> None:
    for statement in seal_trigger_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_seal_trigger_sql(op.get_bind().dialect.name):
        op.execute(statement)
