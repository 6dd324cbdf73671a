"""bulk tables without foreign keys: progress_record and monthly_assessment

A province's month writes a million rows into each of these two tables, and on
PostgreSQL the per-row foreign-key triggers cost more than the rows themselves
(``INSERT`` of 100,000 ``monthly_assessment`` rows: 2.3 s with its three foreign keys,
0.86 s without). Their ids come from the catalog the same transaction loaded
(collection maps the platform's codes; the monthly analysis writes the cells of the
units and indicators it read), and catalog rows are never deleted
(``save_catalog`` upserts by code), so the constraints guard against nothing that
can happen. The ledgers keep theirs.

SQLite's foreign keys are unnamed: the tables are rebuilt without them (batch mode
with a naming convention, Alembic's documented way).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEYS: dict[str, list[tuple[str, str]]] = {
    "progress_record": [("unit_id", "unit"), ("indicator_id", "indicator")],
    "monthly_assessment": [
        ("unit_id", "unit"),
        ("indicator_id", "indicator"),
        ("cycle_run_id", "cycle_run"),
    ],
}
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, keys in FOREIGN_KEYS.items():
        if sqlite:
            with op.batch_alter_table(
                table, recreate="always", naming_convention=SQLITE_NAMES
            ) as batch_op:
                for column, referred in keys:
                    batch_op.drop_constraint(_name(table, column, referred, True), "foreignkey")
        else:
            for column, referred in keys:
                op.drop_constraint(_name(table, column, referred, False), table, "foreignkey")


def _name(table: str, column: str, referred: str, sqlite: bool) -> str:
    """PostgreSQL's own name for the key; on SQLite the convention's (what upgrade drops)."""
    return f"fk_{table}_{column}_{referred}" if sqlite else f"{table}_{column}_fkey"


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, keys in FOREIGN_KEYS.items():
        with op.batch_alter_table(table) as batch_op:
            for column, referred in keys:
                name = _name(table, column, referred, sqlite)
                batch_op.create_foreign_key(name, referred, [column], ["id"])
