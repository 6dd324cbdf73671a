"""Which periods a backfill runs (models.plans.backfill): pure, no database or Prefect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from models.plans.backfill import (
    BackfillOutcome,
    BackfillPick,
    Mode,
    backfill_markdown,
    cycle_periods,
    pick_periods,
)
from models.rules import SHANGHAI, Cycle, Period, WorkCalendar, YearRules

MONTHLY = Cycle.MONTHLY_ANALYSIS
CAL = WorkCalendar()
STALE = timedelta(hours=6)
# 2026-07-08 12:00: June's analysis (first working day after 6 July) has run; July's not.
NOW = datetime(2026, 7, 8, 12, 0, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Run:
    status: str
    claimed_at: datetime = NOW - timedelta(days=30)


def _pick(
    runs: dict[str, Run], mode: Mode, now: datetime = NOW, first: str = "2026-01",
    last: str = "2026-06", cycle: Cycle = MONTHLY, rules: YearRules | None = None,
) -> list[tuple[str, bool]]:  # fmt: skip
    periods = cycle_periods(cycle, first, last)
    year_rules = {} if rules is None else {2026: rules}
    pick = pick_periods(cycle, periods, runs, mode, now, CAL, year_rules, STALE)
    return [(p.key, force) for p, force in pick.chosen]


def test_missing_mode_picks_the_months_with_no_run_in_order() -> None:
    runs = {"2026-02": Run("completed"), "2026-04": Run("failed")}
    assert _pick(runs, "missing") == [
        ("2026-01", False), ("2026-03", False), ("2026-05", False), ("2026-06", False),
    ]  # fmt: skip


def test_failed_mode_picks_failed_and_partial_runs_unforced() -> None:
    runs = {"2026-01": Run("failed"), "2026-02": Run("partial"), "2026-03": Run("completed")}
    assert _pick(runs, "failed") == [("2026-01", False), ("2026-02", False)]


def test_failed_mode_forces_only_a_claim_older_than_the_stale_limit() -> None:
    runs = {
        "2026-01": Run("running", NOW - STALE - timedelta(minutes=1)),
        "2026-02": Run("queued", NOW - timedelta(minutes=5)),
    }
    assert _pick(runs, "failed") == [("2026-01", True)]


def test_all_mode_forces_every_due_period() -> None:
    assert _pick({"2026-01": Run("completed")}, "all", last="2026-03") == [
        ("2026-01", True), ("2026-02", True), ("2026-03", True),
    ]  # fmt: skip


def test_a_month_whose_analysis_time_has_not_come_is_never_picked() -> None:
    periods = cycle_periods(MONTHLY, "2026-05", "2026-08")
    pick = pick_periods(MONTHLY, periods, {}, "all", NOW, CAL, {}, STALE)
    assert pick.keys == ["2026-05", "2026-06"]
    assert [p.key for p in pick.not_due] == ["2026-07", "2026-08"]


def test_the_due_time_follows_the_years_rules() -> None:
    # June's deadline moved to the 10th: its analysis runs after 10 July, not on the 7th.
    later = YearRules(upload_deadline_day=10)
    assert _pick({}, "missing", first="2026-06", rules=later) == []
    assert _pick({}, "missing", first="2026-06") == [("2026-06", False)]


def test_a_quarter_is_due_once_its_closing_month_is_analysed() -> None:
    assert _pick({}, "missing", cycle=Cycle.QUARTERLY_MONITORING) == [
        ("2026-Q1", False), ("2026-Q2", False),
    ]  # fmt: skip
    early = datetime(2026, 7, 1, tzinfo=SHANGHAI)
    assert _pick({}, "missing", early, cycle=Cycle.QUARTERLY_MONITORING) == [("2026-Q1", False)]


def test_months_name_the_period_they_fall_in_and_other_kinds_are_refused() -> None:
    assert cycle_periods(Cycle.HALF_YEAR_EVALUATION, "2026-02", "2026-12") == [
        Period.half(2026, 1), Period.half(2026, 2),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="2026-Q1"):
        cycle_periods(Cycle.HALF_YEAR_EVALUATION, "2026-Q1", "2026-12")


def test_the_report_names_what_was_picked_left_out_and_how_it_ended() -> None:
    pick = BackfillPick(((Period.month(2026, 1), False),), (Period.month(2026, 12),))
    text = backfill_markdown(
        "monthly_analysis", "2026-01", "2026-12", "missing", dry_run=True, parallel=False,
        periods=12, pick=pick, outcomes=[BackfillOutcome("2026-01", False, "演练，未运行")],
    )  # fmt: skip
    assert "选中 1 个：2026-01" in text
    assert "未补跑的期次：2026-12" in text
    assert "| 2026-01 | 否 | 演练，未运行 |" in text
