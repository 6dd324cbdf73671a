"""Problems found by analysis (rulebook section 5): opened at the quarterly monitoring for
three red or missing months, closed by a later green or yellow month or by the office."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.persistence.tables import MonthlyAssessment
from models.plans.problems import (
    OpenAnalysisProblem,
    plan_problem_closures,
    plan_quarter_problems,
    rectification_month,
)
from models.rules import Level, Period, WorkCalendar
from tasks.monthly import load_indicators, load_units
from tasks.onsite_tasks import close_problem, load_problems
from tasks.problems import close_problems_by_month, open_quarter_problems
from tasks.runtime import Runtime

Q1 = Period.parse("2026-Q1")
RED, MISSING, GREEN, YELLOW, ORANGE, UNAVAILABLE = (
    Level.RED.value,
    Level.MISSING.value,
    Level.GREEN.value,
    Level.YELLOW.value,
    Level.ORANGE.value,
    Level.UNAVAILABLE.value,
)
DUE = date(2026, 7, 6)
NAMES = {10: "一般公共预算收入"}


def _months(*levels: str, start: int = 1) -> dict[str, str]:
    return {f"2026-{start + n:02d}": level for n, level in enumerate(levels)}


def test_a_unit_red_or_missing_in_all_three_months_gets_a_problem_with_its_deadline() -> None:
    levels = {(1, 10): _months(RED, MISSING, RED), (2, 10): _months(GREEN, RED, RED)}

    (problem,) = plan_quarter_problems(Q1, levels, set(), DUE, NAMES)

    assert (problem.unit_id, problem.indicator_id, problem.period) == (1, 10, "2026-Q1")
    assert problem.rectify_by == DUE
    assert "一般公共预算收入" in problem.description
    assert "2026-02：未按期上传" in problem.description


def test_two_red_months_of_three_open_no_problem() -> None:
    levels = {
        (1, 10): _months(RED, RED, ORANGE),
        (2, 10): _months(RED, RED, UNAVAILABLE),  # the platform's failing, not the unit's
        (3, 10): _months(RED, RED),  # March not assessed
    }
    assert plan_quarter_problems(Q1, levels, set(), DUE, NAMES) == []


def test_only_the_quarters_months_count_and_an_existing_problem_is_not_opened_again() -> None:
    levels = {(1, 10): {**_months(RED, RED, RED), "2026-04": GREEN}}

    assert len(plan_quarter_problems(Q1, levels, set(), DUE, NAMES)) == 1
    assert plan_quarter_problems(Q1, levels, {(1, 10)}, DUE, NAMES) == []


def test_the_deadline_is_the_next_quarters_last_upload_deadline() -> None:
    assert rectification_month(Q1).key == "2026-06"
    assert rectification_month(Period.parse("2026-Q4")).key == "2027-03"
    assert WorkCalendar().upload_deadline(rectification_month(Q1)) >= date(2026, 7, 5)


def test_the_first_later_green_or_yellow_month_closes_the_problem() -> None:
    problems = [OpenAnalysisProblem(7, 1, 10, "2026-Q1"), OpenAnalysisProblem(8, 2, 10, "2026-Q1")]
    levels = {
        (1, 10): {"2026-03": GREEN, "2026-04": RED, "2026-05": YELLOW, "2026-06": GREEN},
        (2, 10): {"2026-04": ORANGE, "2026-05": UNAVAILABLE, "2026-06": MISSING},
    }

    (closing,) = plan_problem_closures(problems, levels)

    assert (closing.problem_id, closing.month, closing.level) == (7, "2026-05", YELLOW)
    assert "2026-05" in closing.note


# ------------------------------------------------------------------------------ database


@pytest.fixture
def settings_env(catalog_db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.delenv("ASSESS_CALENDAR_OVERRIDES", raising=False)
    yield catalog_db


NOW = datetime(2026, 4, 12, 2, 0, tzinfo=UTC)


def _seed(engine: Engine, cells: dict[tuple[int, int], dict[str, str]]) -> None:
    with session_scope(engine) as session:
        for (unit_id, indicator_id), by_month in cells.items():
            for month, level in by_month.items():
                session.add(
                    MonthlyAssessment(
                        year=2026,
                        period=month,
                        unit_id=unit_id,
                        indicator_id=indicator_id,
                        level=level,
                        pre_deduction=Decimal(0),
                        computed_at=NOW,
                    )
                )


def _pairs(engine: Engine) -> tuple[int, int, int, int]:
    with session_scope(engine) as session:
        units = load_units(session)
        indicator = next(
            i for i in load_indicators(session, 2026) if units[0].category in i.categories
        )
        other = next(u for u in units[1:] if u.category == units[0].category)
        return units[0].id, other.id, indicator.id, len(units)


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        opened = conn.execute(sa.text("SELECT count(*) FROM problem_entry")).scalar_one()
        closed = conn.execute(sa.text("SELECT count(*) FROM problem_closure")).scalar_one()
    return int(opened), int(closed)


@pytest.mark.db
def test_the_quarterly_monitoring_opens_a_problem_once_and_a_later_green_month_closes_it(
    settings_env: Engine,
    runtime: Runtime,
) -> None:
    engine = settings_env
    red_unit, two_red_unit, ind, _ = _pairs(engine)
    _seed(engine, {(red_unit, ind): _months(RED, MISSING, RED)})
    _seed(engine, {(two_red_unit, ind): _months(RED, RED, YELLOW)})

    with session_scope(engine) as session:
        outcome = open_quarter_problems(session, "2026-Q1", NOW, runtime.calendar)
    with session_scope(engine) as session:
        again = open_quarter_problems(session, "2026-Q1", NOW, runtime.calendar)

    assert outcome == {"opened": 1, "closed": 0}
    assert again == {"opened": 0, "closed": 0}  # a rerun opens nothing twice
    with session_scope(engine) as session:
        (problem,) = load_problems(session, source="analysis")
    assert problem.period == "2026-Q1" and not problem.closed
    assert problem.rectify_by == WorkCalendar().upload_deadline("2026-06")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT unit_id, indicator_id FROM problem_entry")).one()
    assert tuple(row) == (red_unit, ind)

    _seed(engine, {(red_unit, ind): {"2026-04": RED}})
    with session_scope(engine) as session:
        assert close_problems_by_month(session, "2026-04", (red_unit, red_unit), NOW) == 0
    _seed(engine, {(red_unit, ind): {"2026-05": GREEN}})
    with session_scope(engine) as session:
        assert close_problems_by_month(session, "2026-05", (red_unit, red_unit), NOW) == 1
    with session_scope(engine) as session:
        assert close_problems_by_month(session, "2026-05", (red_unit, red_unit), NOW) == 0
        (closed,) = load_problems(session, source="analysis")
    assert closed.closed
    assert _counts(engine) == (1, 1)


@pytest.mark.db
def test_a_quarter_monitored_late_opens_its_problem_and_closes_it_by_the_months_since(
    settings_env: Engine,
    runtime: Runtime,
) -> None:
    engine = settings_env
    unit, _, ind, _ = _pairs(engine)
    _seed(engine, {(unit, ind): {**_months(RED, RED, RED), "2026-04": ORANGE, "2026-05": GREEN}})

    with session_scope(engine) as session:
        outcome = open_quarter_problems(session, "2026-Q1", NOW, runtime.calendar)

    assert outcome == {"opened": 1, "closed": 1}  # as an on-time run then May would give
    with engine.connect() as conn:
        note = conn.execute(sa.text("SELECT note FROM problem_closure")).scalar_one()
    assert "2026-05" in note
    with session_scope(engine) as session:
        assert open_quarter_problems(session, "2026-Q1", NOW, runtime.calendar) == {
            "opened": 0,
            "closed": 0,
        }
    assert _counts(engine) == (1, 1)


@pytest.mark.db
def test_the_office_can_close_an_analysis_problem_and_no_month_closes_it_again(
    settings_env: Engine,
    runtime: Runtime,
) -> None:
    engine = settings_env
    unit, _, ind, _ = _pairs(engine)
    _seed(engine, {(unit, ind): _months(MISSING, MISSING, MISSING)})
    with session_scope(engine) as session:
        open_quarter_problems(session, "2026-Q1", NOW, runtime.calendar)
        (problem,) = load_problems(session, source="analysis")
    with session_scope(engine) as session:
        close_problem(session, problem.id, "已整改", NOW)
    _seed(engine, {(unit, ind): {"2026-04": GREEN}})
    with session_scope(engine) as session:
        assert close_problems_by_month(session, "2026-04", (unit, unit), NOW) == 0
    assert _counts(engine) == (1, 1)
