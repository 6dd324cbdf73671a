"""result versions: a period's results are restated, never silently rewritten

``result_entry`` gets ``version`` (the (cycle, period)'s result version a row belongs
to; existing rows are version 1) and ``cause`` (what made the version:
``run:<id>``, ``rerun:<id>``, ``ruling:<id>``; empty for rows from before). The
recorded time is the row's ``created_at``. Columns are added in place (no table
rebuild on SQLite), so the ledger's triggers stay.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "result_entry",
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )
    op.add_column(
        "result_entry",
        sa.Column(
            "cause",
            AutoString(length=60),
            nullable=False,
            server_default="",
        ),
    )


def downgrade() -> None:
    op.drop_column("result_entry", "cause")
    op.drop_column("result_entry", "version")
