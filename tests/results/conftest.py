"""Fixtures for the results, on-site check, sharing and report tests.

The demo catalog and its simulator come from ``tests.cycles.conftest``; the
database and the Prefect server from ``tests.conftest``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.cycles.conftest import TOKEN, catalog_db, demo_year, sim, sim_url

__all__ = ["catalog_db", "db_env", "demo_year", "settings_env", "sim", "sim_url"]


@pytest.fixture
def db_env(catalog_db: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The demo catalog in a fresh database that the settings (and so the CLI) point at."""
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    monkeypatch.delenv("ASSESS_CALENDAR_OVERRIDES", raising=False)
    yield catalog_db


@pytest.fixture
def settings_env(db_env: Engine, sim: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """``db_env`` plus the platform simulator, for the cycle flows."""
    monkeypatch.setenv("ASSESS_PLATFORM_URL", sim)
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
    yield db_env
