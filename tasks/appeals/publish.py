"""Publishing: a year's annual results (``publish_year``: from then on the year's
ledgers accept only entries that come from a ruling, enforced by the database, see
migration 0002) and a run's Markdown artifact (``publish_markdown_task``).
"""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlmodel import Session

from models.tables import AssessmentYear

__all__ = [
    "publish_markdown_task",
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


@task(name="publish-markdown", cache_policy=NO_CACHE)
def publish_markdown_task(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=key, markdown=markdown, description=description)
