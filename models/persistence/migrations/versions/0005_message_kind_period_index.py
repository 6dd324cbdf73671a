"""an index on message (kind, period, unit_id)

Queueing a batch's digests looks up the earlier messages of its units for the same
kind and period (``tasks.delivery.load_existing``); a recompute does it for one
category's annual notices. With only ``ix_message_unit_id`` that read every message
of the units (a year of them) or, without statistics, walked the units one by one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_message_kind_period_unit", "message", ["kind", "period", "unit_id"])


def downgrade() -> None:
    op.drop_index("ix_message_kind_period_unit", table_name="message")
