"""Fixtures for the appeal tests: a whole analysed year, copied fresh for each test.

``analysed_year`` runs the real cycle flows once per session against the platform
simulator, in the calendar's order (months 1–5, the half-year evaluation, which runs
June's monthly analysis below it, months 7–11, then the annual assessment, which
runs December's analysis and the second half-year below it). ``year_db`` gives each
test its own copy of that database, with the settings pointing at it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from deployments.demo.build_catalog import demo_catalog
from models.persistence.database import make_engine, session_scope
from models.rules import CalendarFallbackWarning
from tasks.catalog import save_catalog
from tasks.runtime import build_runtime
from tests.fixtures.databases import copy_database, drop_database, source_of
from tests.fixtures.demo import TOKEN

AFTER_THE_YEAR = datetime(2027, 2, 1, tzinfo=UTC)
"""The clock of the year's flows: after every platform time of the demo year (the
platform's records and appeals of December carry January 2027 times, and times later
than *now* are refused)."""


def after_the_year() -> datetime:
    return AFTER_THE_YEAR


@pytest.fixture(autouse=True)
def _clock_after_the_year(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.common

    monkeypatch.setattr(flows.common, "time_source", after_the_year)


def run_year(url: str, platform_url: str) -> None:
    """Run the year's cycles in the calendar's order through the real flows."""
    import flows.common
    from flows.annual_assessment import annual_assessment
    from flows.half_year_evaluation import half_year_evaluation
    from flows.monthly_analysis import monthly_analysis

    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarFallbackWarning)
        mp.setattr(flows.common, "time_source", after_the_year)
        mp.setenv("ASSESS_DATABASE_URL", url)
        mp.setenv("ASSESS_PLATFORM_URL", platform_url)
        mp.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
        for month in range(1, 6):
            assert monthly_analysis(period=f"2026-{month:02d}", return_state=True).is_completed()
        assert half_year_evaluation(period="2026-H1", return_state=True).is_completed()
        for month in range(7, 12):
            assert monthly_analysis(period=f"2026-{month:02d}", return_state=True).is_completed()
        state = annual_assessment(period="2026", return_state=True)
        assert state.is_completed(), state.message
        build_runtime().engine.dispose()


@pytest.fixture(scope="session")
def analysed_year(
    _template: str,
    sim_url: str,
    prefect_server: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The source (file or database name) of a database holding the demo catalog and a
    whole 2026 run through the cycle flows (annual assessment included, not published)."""
    tmp = tmp_path_factory.mktemp("year")
    url = copy_database(_template, tmp)
    engine = make_engine(url)
    with session_scope(engine) as session:
        save_catalog(session, demo_catalog())
    engine.dispose()
    run_year(url, sim_url)
    yield source_of(url)
    drop_database(url)


@pytest.fixture
def year_db(
    analysed_year: str,
    sim_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    """A fresh copy of the analysed year; the settings point at it and at the simulator."""
    url = copy_database(analysed_year, tmp_path)
    monkeypatch.setenv("ASSESS_DATABASE_URL", url)
    monkeypatch.setenv("ASSESS_PLATFORM_URL", sim_url)
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
    monkeypatch.delenv("ASSESS_CALENDAR_OVERRIDES", raising=False)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    build_runtime().engine.dispose()
    drop_database(url)
