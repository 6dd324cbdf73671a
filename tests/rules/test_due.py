"""When a cycle's period is due (models.rules.due), on the 2026 working-day calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest

from models.plans.backfill import Mode, cycle_periods, pick_periods
from models.rules import (
    SHANGHAI,
    Cycle,
    PeriodError,
    WorkCalendar,
    YearRules,
)
from models.rules.due import check_due, due_at, is_due

CAL = WorkCalendar()
MINUTE = timedelta(minutes=1)


def cst(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_a_month_is_due_at_its_analysis_time_after_its_upload_deadline() -> None:
    # November 2026: the 5th of December is a Saturday, so the deadline is Monday 12-07
    # and the analysis the next working day, Tuesday 12-08 at 09:00.
    assert due_at(Cycle.MONTHLY_ANALYSIS, "2026-11", CAL) == cst(2026, 12, 8, 9, 0)
    assert not is_due(Cycle.MONTHLY_ANALYSIS, "2026-11", cst(2026, 12, 2, 10, 0), CAL)
    assert not is_due(Cycle.MONTHLY_ANALYSIS, "2026-11", cst(2026, 12, 7, 23, 59), CAL)
    assert is_due(Cycle.MONTHLY_ANALYSIS, "2026-11", cst(2026, 12, 8, 9, 0), CAL)
    # September 2026: the deadline moves over the National Day holiday to 10-08.
    assert due_at(Cycle.MONTHLY_ANALYSIS, "2026-09", CAL) == cst(2026, 10, 9, 9, 0)


def test_a_quarter_and_a_half_are_due_after_their_last_months_analysis() -> None:
    assert due_at(Cycle.QUARTERLY_MONITORING, "2026-Q3", CAL) == cst(2026, 10, 9, 10, 0)
    september = due_at(Cycle.MONTHLY_ANALYSIS, "2026-09", CAL)
    assert september < due_at(Cycle.QUARTERLY_MONITORING, "2026-Q3", CAL)
    assert not is_due(Cycle.QUARTERLY_MONITORING, "2026-Q3", cst(2026, 10, 9, 9, 30), CAL)
    # June's deadline: Sunday 07-05 moves to Monday 07-06, the analysis is Tuesday 07-07.
    assert due_at(Cycle.HALF_YEAR_EVALUATION, "2026-H1", CAL) == cst(2026, 7, 7, 11, 0)
    # Every month of a quarter is due by the time the quarter is.
    for quarter in cycle_periods(Cycle.QUARTERLY_MONITORING, "2026-Q1", "2026-Q3"):
        at = due_at(Cycle.QUARTERLY_MONITORING, quarter, CAL)
        assert all(is_due(Cycle.MONTHLY_ANALYSIS, m, at, CAL) for m in quarter.months())


@pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning")  # 2027
def test_the_year_is_due_only_at_its_annual_time_in_january() -> None:
    at = due_at(Cycle.ANNUAL_ASSESSMENT, "2026", CAL)
    assert at == cst(2027, 1, 6, 12, 0)
    assert not is_due(Cycle.ANNUAL_ASSESSMENT, "2026", cst(2026, 12, 2, 12, 0), CAL)
    assert not is_due(Cycle.ANNUAL_ASSESSMENT, "2026", at - MINUTE, CAL)
    assert is_due(Cycle.ANNUAL_ASSESSMENT, "2026", at.in_timezone("UTC"), CAL)


def test_a_reminder_is_due_on_its_reminder_day_never_inside_its_month() -> None:
    assert due_at(Cycle.PRE_DEADLINE_REMINDER, "2026-09", CAL) == cst(2026, 10, 8, 9, 0)
    assert not is_due(Cycle.PRE_DEADLINE_REMINDER, "2026-09", cst(2026, 9, 29, 9, 0), CAL)


def test_the_due_time_follows_the_years_rules() -> None:
    rules = YearRules(monthly_analysis_time=time(14, 0))
    assert due_at(Cycle.MONTHLY_ANALYSIS, "2026-11", CAL, rules) == cst(2026, 12, 8, 14, 0)


def test_a_period_of_another_kind_than_the_cycles_is_refused() -> None:
    with pytest.raises(PeriodError):
        due_at(Cycle.QUARTERLY_MONITORING, "2026-09", CAL)
    with pytest.raises(PeriodError):
        due_at(Cycle.MONTHLY_ANALYSIS, "2026-Q3", CAL)


def test_the_refusal_says_in_chinese_when_the_period_will_be_due_and_why() -> None:
    early = check_due(
        Cycle.MONTHLY_ANALYSIS, "2026-11", datetime(2026, 12, 2, 2, 0, tzinfo=UTC), CAL
    )
    assert not early.is_due
    assert "2026-11 月分析尚未到时间" in early.message
    assert "2026年12月8日 09:00" in early.message
    assert "上传截止日为2026年12月7日" in early.message
    on_time = check_due(Cycle.MONTHLY_ANALYSIS, "2026-11", cst(2026, 12, 8, 9, 0), CAL)
    assert on_time.is_due
    quarter = check_due(Cycle.QUARTERLY_MONITORING, "2026-Q3", cst(2026, 10, 9, 9, 30), CAL)
    assert "2026年10月9日 10:00" in quarter.message and "2026-09月分析之后" in quarter.message


@dataclass(frozen=True)
class Run:
    status: str
    claimed_at: datetime


@pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning")  # 2027
@pytest.mark.parametrize("mode", ["missing", "failed", "all"])
def test_the_backfill_never_picks_a_period_that_is_not_due(mode: Mode) -> None:
    now = cst(2026, 12, 2, 15, 0)  # November's deadline (12-07) has not passed
    spans = [
        (Cycle.MONTHLY_ANALYSIS, "2026-01", "2026-12", ["2026-11", "2026-12"]),
        (Cycle.QUARTERLY_MONITORING, "2026-Q1", "2026-Q4", ["2026-Q4"]),
        (Cycle.HALF_YEAR_EVALUATION, "2026-H1", "2026-H2", ["2026-H2"]),
        (Cycle.ANNUAL_ASSESSMENT, "2026", "2026", ["2026"]),
    ]
    for cycle, first, last, not_due in spans:
        periods = cycle_periods(cycle, first, last)
        failed = {p.key: Run("failed", now - timedelta(days=60)) for p in periods}
        runs = {} if mode == "missing" else failed
        pick = pick_periods(cycle, periods, runs, mode, now, CAL, {}, timedelta(hours=6))
        assert [p.key for p in pick.not_due] == not_due
        assert [p.key for p, _ in pick.chosen] == [p.key for p in periods if p.key not in not_due]
        assert all(is_due(cycle, p, now, CAL) for p, _ in pick.chosen)
