"""The running process's shared resources: the database engine and the work calendar."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from models.persistence.database import make_engine
from models.rules import WorkCalendar
from tasks.calendar import load_work_calendar
from tasks.settings import get_settings


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def database() -> Engine:
    """The project's database engine, from the current settings (one per process and URL)."""
    return _engine(get_settings().resolved_database_url())


def work_calendar() -> WorkCalendar:
    return load_work_calendar(get_settings().calendar_overrides)


def batch_concurrency() -> int:
    """How many batches of one cycle are worked on at once (``ASSESS_BATCH_CONCURRENCY``,
    default 1). Batches run in threads: more than one pays only when the database works
    on another host (one batch's database time overlaps another's Python); measured on
    one 2-core host with PostgreSQL, 2 was slower than 1 (bench/README.md)."""
    if database().dialect.name == "sqlite":
        return 1  # one writer at a time
    return get_settings().batch_concurrency
