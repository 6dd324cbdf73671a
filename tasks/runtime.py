"""The running process's shared resources: the database engine and the work calendar."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from models.database import make_engine
from models.rules import WorkCalendar
from models.settings import get_settings
from tasks.calendar import load_work_calendar


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def database() -> Engine:
    """The project's database engine, from the current settings (one per process and URL)."""
    return _engine(get_settings().resolved_database_url())


def work_calendar() -> WorkCalendar:
    return load_work_calendar(get_settings().calendar_overrides)


def batch_concurrency() -> int:
    """How many batches of one cycle are worked on at once: ``ASSESS_BATCH_CONCURRENCY``,
    else 1 on SQLite (one writer) and 2 on PostgreSQL (one batch's database work
    overlaps another's Python)."""
    configured = get_settings().batch_concurrency
    if configured is not None:
        return configured
    return 1 if database().dialect.name == "sqlite" else 2
