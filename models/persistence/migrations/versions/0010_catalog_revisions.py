"""catalog revisions: a frozen year changes only through an audited, dated revision

Issue 14 (mid-year catalog changes). ``catalog_revision`` is append-only like the
ledgers (UPDATE, DELETE, REPLACE and TRUNCATE refused): one row per audited change of a
year's catalog, with its document (文号), the month it is effective from, its reason,
who recorded it and when, and the difference it carries (``changes``: JSON, each change
with the row before and after). A revision of a sealed year (``published_at`` set) is
refused.

``item.revision_id`` and ``indicator.revision_id`` name the revision that added a row.
The frozen-year guard of 0007 now guards each revision instead of the whole year: an
INSERT into a frozen year's ``item`` or ``indicator`` is accepted only when it names a
revision of that same year; UPDATE and DELETE stay refused (a revision's changes to an
existing row live in the revision, read as of the month).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from models.persistence.database import ledger_replace_guard_sql, ledger_trigger_sql
from models.persistence.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "catalog_revision"
FROZEN = "is frozen since its first cycle"
ADDED_BY_REVISION = (
    "NEW.revision_id IS NOT NULL AND EXISTS (SELECT 1 FROM catalog_revision r "
    "WHERE r.id = NEW.revision_id AND r.year = NEW.year)"
)


def _sqlite_frozen_insert(table: str, allow_revision: bool) -> list[str]:
    new = "EXISTS (SELECT 1 FROM assessment_year WHERE year = NEW.year AND frozen_at IS NOT NULL)"
    if allow_revision:
        new = f"({new} AND NOT ({ADDED_BY_REVISION}))"
    replaced = (
        f"EXISTS (SELECT 1 FROM {table} r JOIN assessment_year y ON y.year = r.year "
        "WHERE r.id = NEW.id AND y.frozen_at IS NOT NULL)"
    )
    return [
        f"DROP TRIGGER IF EXISTS {table}_frozen_insert",
        f"CREATE TRIGGER {table}_frozen_insert BEFORE INSERT ON {table} "
        f"WHEN {new} OR {replaced} BEGIN SELECT RAISE(ABORT, "
        f"'the year of this {table} row {FROZEN}: INSERT refused'); END",
    ]


def _pg_frozen_function(table: str, allow_revision: bool) -> str:
    lookup = (
        "SELECT a.year INTO frozen FROM assessment_year a "
        "WHERE a.year = {row}.year AND a.frozen_at IS NOT NULL"
    )
    allowed = (
        f"""
                IF TG_OP = 'INSERT' AND {ADDED_BY_REVISION} THEN
                    RETURN NEW;
                END IF;"""
        if allow_revision
        else ""
    )
    return f"""
            CREATE OR REPLACE FUNCTION refuse_frozen_{table}_change() RETURNS trigger AS $$
            DECLARE
                frozen integer;
            BEGIN{allowed}
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


def _sealed_guard(dialect: str) -> list[str]:
    message = "catalog_revision: the year is sealed (results published): INSERT refused"
    if dialect == "postgresql":
        return [
            """
            CREATE OR REPLACE FUNCTION refuse_sealed_revision() RETURNS trigger AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM assessment_year
                           WHERE year = NEW.year AND published_at IS NOT NULL) THEN
                    RAISE EXCEPTION 'catalog_revision: year % is sealed (results published): INSERT refused', NEW.year USING ERRCODE = 'raise_exception';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """,
            f"CREATE TRIGGER {TABLE}_sealed BEFORE INSERT ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_sealed_revision()",
        ]
    return [
        f"CREATE TRIGGER {TABLE}_sealed BEFORE INSERT ON {TABLE} WHEN EXISTS (SELECT 1 FROM "
        "assessment_year WHERE year = NEW.year AND published_at IS NOT NULL) "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    ]


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("document_ref", AutoString(length=200), nullable=False),
        sa.Column("effective_month", AutoString(length=7), nullable=False),
        sa.Column("reason", AutoString(length=500), nullable=False),
        sa.Column("recorded_by", AutoString(length=100), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_hash", AutoString(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["year"], ["assessment_year.year"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_catalog_revision_year"), TABLE, ["year"], unique=False)
    op.add_column("item", sa.Column("revision_id", sa.Integer(), nullable=True))
    op.add_column("indicator", sa.Column("revision_id", sa.Integer(), nullable=True))
    dialect = op.get_bind().dialect.name
    statements = ledger_trigger_sql(dialect, (TABLE,)) + _sealed_guard(dialect)
    if dialect == "postgresql":
        statements += [_pg_frozen_function(t, True) for t in ("item", "indicator")]
    else:
        statements.append(ledger_replace_guard_sql(TABLE, [("id",)]))
        for t in ("item", "indicator"):
            statements += _sqlite_frozen_insert(t, True)
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        statements = [_pg_frozen_function(t, False) for t in ("item", "indicator")]
        statements += [
            f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}",
            f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
            f"DROP TRIGGER IF EXISTS {TABLE}_sealed ON {TABLE}",
            "DROP FUNCTION IF EXISTS refuse_sealed_revision()",
        ]
    else:
        statements = []
        for t in ("item", "indicator"):
            statements += _sqlite_frozen_insert(t, False)
        statements += [
            f"DROP TRIGGER IF EXISTS {TABLE}_{name}"
            for name in ("no_update", "no_delete", "no_replace", "sealed")
        ]
    for statement in statements:
        op.execute(statement)
    op.drop_column("indicator", "revision_id")  # ALTER TABLE DROP COLUMN: triggers kept
    op.drop_column("item", "revision_id")
    op.drop_index(op.f("ix_catalog_revision_year"), table_name=TABLE)
    op.drop_table(TABLE)
