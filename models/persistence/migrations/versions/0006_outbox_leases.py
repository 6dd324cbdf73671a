"""outbox leases: message.claimed_by and message.lease_until, delivery_attempt.resend

A delivery run claims a message before it sends it (``tasks.outbox_lease``): it sets
``lease_until`` while it holds the message and clears it once the answer is recorded;
``claimed_by`` names the run that claimed it last. A message whose lease expired while
still set was held by a run that stopped before recording its answer: the run that
takes it over marks its posts ``resend``. Plain ``ADD COLUMN`` on both databases (no
table rebuild on SQLite, so the ledger triggers of delivery_attempt stay as they are).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.persistence.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "message",
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "message",
        sa.Column(
            "lease_until", models.persistence.types.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column(
        "delivery_attempt",
        sa.Column("resend", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("delivery_attempt", "resend")
    op.drop_column("message", "lease_until")
    op.drop_column("message", "claimed_by")
