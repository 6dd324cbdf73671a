"""A year caught up in one go gives every period the results its on-time runs gave
(issue 13, Done-when 1).

Both runs go through the real cycle flows against the demo platform, on two fresh
databases. The on-time run starts each cycle at its due time (``models.rules.due``:
each month at its analysis, each quarter, half-year and the year after their last
month), handing it that time as ``now``, as the schedule does. The catch-up runs the
annual assessment once on 2027-01-20, which runs every month, quarter and half below
it. Quarters, half-years and the year must come out the same.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from deployments.demo.build_catalog import demo_catalog
from flows.annual_assessment import annual_assessment
from flows.half_year_evaluation import half_year_evaluation
from flows.monthly_analysis import monthly_analysis
from flows.quarterly_monitoring import quarterly_monitoring
from models.persistence.database import make_engine, session_scope
from models.rules import CalendarFallbackWarning, Cycle, Period
from models.rules.due import due_at
from tasks.catalog import save_catalog
from tasks.monthly import load_negative_list
from tasks.runtime import build_runtime
from tests.appeals.support import YEAR, latest_results, ledger_sums, rows
from tests.fixtures.databases import copy_database, drop_database
from tests.fixtures.demo import TOKEN

pytestmark = [
    pytest.mark.db,
    pytest.mark.flow,
    pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning"),
]

CATCH_UP_AT = datetime(2027, 1, 20, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
FLOWS: dict[Cycle, Any] = {
    Cycle.MONTHLY_ANALYSIS: monthly_analysis,
    Cycle.QUARTERLY_MONITORING: quarterly_monitoring,
    Cycle.HALF_YEAR_EVALUATION: half_year_evaluation,
    Cycle.ANNUAL_ASSESSMENT: annual_assessment,
}


def _schedule() -> list[tuple[datetime, Cycle, Period]]:
    """Every cycle run of the year with the time it is due, in the schedule's order."""
    calendar = build_runtime().calendar
    year = Period.whole_year(YEAR)
    runs = [(Cycle.MONTHLY_ANALYSIS, m) for m in year.months()]
    runs += [(Cycle.QUARTERLY_MONITORING, Period.quarter(YEAR, q)) for q in range(1, 5)]
    runs += [(Cycle.HALF_YEAR_EVALUATION, Period.parse(f"{YEAR}-H{h}")) for h in (1, 2)]
    runs += [(Cycle.ANNUAL_ASSESSMENT, year)]
    order = list(FLOWS)
    timed = [
        (datetime.fromtimestamp(due_at(c, p, calendar).timestamp(), UTC), c, p) for c, p in runs
    ]
    return sorted(timed, key=lambda t: (t[0], order.index(t[1])))


@pytest.fixture
def two_years(
    _template: str, sim_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Engine, Engine]]:
    urls = []
    for name in ("on_time", "catch_up"):
        (tmp_path / name).mkdir()
        url = copy_database(_template, tmp_path / name)
        engine = make_engine(url)
        with session_scope(engine) as session:
            save_catalog(session, demo_catalog())
        engine.dispose()
        urls.append(url)
    monkeypatch.setenv("ASSESS_PLATFORM_URL", sim_url)
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
    monkeypatch.delenv("ASSESS_CALENDAR_OVERRIDES", raising=False)
    engines = (make_engine(urls[0]), make_engine(urls[1]))
    yield engines
    for engine, url in zip(engines, urls, strict=True):
        engine.dispose()
        drop_database(url)
    build_runtime().engine.dispose()


def _use(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    build_runtime().engine.dispose()
    monkeypatch.setenv("ASSESS_DATABASE_URL", engine.url.render_as_string(hide_password=False))


def _period_results(engine: Engine) -> dict[tuple[str, str, int], tuple[Any, ...]]:
    return {k: v for k, v in latest_results(engine).items()}


def _utc(at: datetime | str) -> datetime:
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _lists(engine: Engine) -> dict[str, frozenset[int]]:
    with session_scope(engine) as session:
        return {m.key: load_negative_list(session, through=m.key)
                for m in Period.whole_year(YEAR).months()}  # fmt: skip


def test_a_catch_up_of_the_year_gives_every_period_the_results_of_its_on_time_runs(
    prefect_server: None, two_years: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    on_time, catch_up = two_years
    warnings.simplefilter("ignore", CalendarFallbackWarning)
    _use(monkeypatch, on_time)
    schedule = _schedule()
    for at, cycle, period in schedule:
        state = FLOWS[cycle](period=period.key, now=at, return_state=True)
        assert state.is_completed() and state.name != "Partial", (cycle, period.key, state.message)
    _use(monkeypatch, catch_up)
    state = annual_assessment(period=str(YEAR), now=CATCH_UP_AT, return_state=True)
    assert state.is_completed(), state.message
    build_runtime().engine.dispose()

    expected, got = _period_results(on_time), _period_results(catch_up)
    periods = {(cycle, period) for cycle, period, _ in expected}
    assert periods == {
        ("half_year_evaluation", f"{YEAR}-H1"),
        ("half_year_evaluation", f"{YEAR}-H2"),
        ("annual_assessment", str(YEAR)),
    }
    assert got == expected
    assert ledger_sums(catch_up) == ledger_sums(on_time)
    assert _lists(catch_up) == _lists(on_time)
    grades = rows(catch_up, "SELECT COUNT(*) FROM result_entry WHERE grade IS NOT NULL")
    assert grades[0][0] > 0
    claimed = rows(on_time, "SELECT cycle, period, claimed_at FROM cycle_run")
    assert {(c, p): _utc(at) for c, p, at in claimed} == {
        (c.value, p.key): at for at, c, p in schedule
    }  # each on-time run was claimed at its due time: ``now`` reached it
    claims = "SELECT cycle, period, status FROM cycle_run ORDER BY cycle, period"
    assert rows(catch_up, claims) == rows(on_time, claims)
    deductions = sum(ledger_sums(on_time).values(), Decimal(0))
    assert deductions > 0  # the year books pre-deductions: the comparison is not empty
