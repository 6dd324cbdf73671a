"""message merging: message.merged_into_id and message.content

Catch-up without flooding (issue 13, item 6): a digest queued for a unit while an older
message of the same cycle kind has not reached it takes that message over. The older
one's status becomes ``merged`` (a status change like ``superseded``: the outbox is not
a ledger) and ``merged_into_id`` names the message that speaks for it. ``content`` keeps
each new message's canonical digest (JSON), so a merged message's content can be rebuilt
and merged again (NULL for messages queued before this revision).

Batch mode: on SQLite the foreign key needs a table rebuild (``message`` carries no
trigger; its indexes are rebuilt with it); on PostgreSQL these are plain ALTERs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_message_merged_into_id_message"


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("content", AutoString(), nullable=True))
        batch_op.create_foreign_key(_FK, "message", ["merged_into_id"], ["id"])
        batch_op.create_index(
            batch_op.f("ix_message_merged_into_id"), ["merged_into_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_merged_into_id"))
        batch_op.drop_constraint(_FK, type_="foreignkey")
        batch_op.drop_column("content")
        batch_op.drop_column("merged_into_id")
