"""seal check per statement on PostgreSQL

0002's triggers check each inserted ledger row on its own: a PL/pgSQL call and a
lookup of ``assessment_year`` per row, about 32 µs, which at province scale cost more
than writing the rows (16,601 deduction entries: 0.87 s with the row trigger, 0.33 s
without). Here the same rule is checked once per statement, over its inserted rows
(an ``AFTER INSERT ... FOR EACH STATEMENT`` trigger with a transition table): the
first sealed year among the entries without a ``ruling_id`` aborts the statement
with the same message, ``year YYYY is sealed: only entries from a ruling are
accepted``. ``COPY`` fires it too. SQLite keeps 0002's row triggers (cheap there).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:40:00.000000
"""

import importlib
from collections.abc import Sequence
from types import ModuleType

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "is sealed: only entries from a ruling are accepted"
TABLES = {
    "deduction_entry": "by_year",
    "warning_entry": "by_period",
    "negative_list_entry": "by_period",
    "result_entry": "by_period",
}
YEAR_OF = {
    "by_year": "n.year",
    "by_period": "CAST(substring(n.period from 1 for 4) AS integer)",
}


def _function(kind: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION refuse_sealed_years_{kind}() RETURNS trigger AS $$
    DECLARE
        sealed integer;
    BEGIN
        SELECT e.year INTO sealed
        FROM (SELECT DISTINCT {YEAR_OF[kind]} AS year FROM new_rows n
              WHERE n.ruling_id IS NULL) e
        JOIN assessment_year a ON a.year = e.year AND a.published_at IS NOT NULL
        ORDER BY e.year LIMIT 1;
        IF sealed IS NOT NULL THEN
            RAISE EXCEPTION 'year % {MESSAGE}', sealed USING ERRCODE = 'raise_exception';
        END IF;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """


def _seal_0002() -> ModuleType:
    return importlib.import_module(
        "models.persistence.migrations.versions.0002_seal_published_years"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in _seal_0002().drop_seal_trigger_sql("postgresql"):
        op.execute(statement)
    for kind in YEAR_OF:
        op.execute(_function(kind))
    for table, kind in TABLES.items():
        op.execute(
            f"CREATE TRIGGER {table}_sealed_year AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION refuse_sealed_years_{kind}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_sealed_year ON {table}")
    for kind in YEAR_OF:
        op.execute(f"DROP FUNCTION IF EXISTS refuse_sealed_years_{kind}()")
    for statement in _seal_0002().seal_trigger_sql("postgresql"):
        op.execute(statement)
