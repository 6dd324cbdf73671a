"""ledger entries name the catalog revision that booked them

A recomputation after a catalog revision (``recompute_after_catalog_change``) books
correcting entries in the deduction, warning and negative-list ledgers; each names
its revision in ``revision_id`` (``catalog_revision.id``), as a recomputation after an
appeal names its ruling in ``ruling_id``. Nullable: cycle runs and rulings leave it
empty. No foreign key, like ``item.revision_id`` and ``indicator.revision_id`` (0010):
revisions are append-only and never deleted, and SQLite would rebuild each ledger
(dropping its guard triggers) to add one.

Plain ``ADD COLUMN`` / ``DROP COLUMN`` on both databases: the ledgers' triggers stay.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("deduction_entry", "warning_entry", "negative_list_entry")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("revision_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_column(table, "revision_id")  # ALTER TABLE DROP COLUMN: triggers kept
