"""result_use.people: how many people a use of a unit's result concerned

The experience report counts promoted *people* (提拔…×余人), not units: a promotion
recommendation (use ``appointment``) records how many cadres it recommended. Rows
recorded before this revision count 0 people (the office re-records them if needed).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 05:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "result_use",
        sa.Column("people", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    with op.batch_alter_table("result_use", schema=None) as batch_op:
        batch_op.drop_column("people")
