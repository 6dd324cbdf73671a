"""Publishing: a year's annual results (``publish_year``: from then on the year's
ledgers accept only entries that come from a ruling, enforced by the database, see
migration 0002).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from models.persistence.tables import AssessmentYear

__all__ = [
    "publish_year",
]


def publish_year(session: Session, year: int, now: datetime) -> datetime:
    """Publish the year's annual results: from now on its ledgers accept only entries
    that come from a ruling (enforced by the database). Idempotent; returns the time."""
    row = session.get(AssessmentYear, year)
    if row is None:
        raise LookupError(f"year {year} is not in the catalog")
    if row.published_at is None:
        row.published_at = now
        session.add(row)
        session.flush()
    assert row.published_at is not None
    return row.published_at
