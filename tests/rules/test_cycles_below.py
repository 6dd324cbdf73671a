"""Each cycle builds on the cycle below it (rulebook section 4): which runs, in order."""

from __future__ import annotations

import pytest

from models.rules import Cycle, Period, PeriodError, cycles_below

M, Q, H = Cycle.MONTHLY_ANALYSIS, Cycle.QUARTERLY_MONITORING, Cycle.HALF_YEAR_EVALUATION


def _keys(runs: list[tuple[Cycle, Period]]) -> list[tuple[str, str]]:
    return [(c.value, p.key) for c, p in runs]


def test_a_quarters_run_needs_all_three_months_in_order() -> None:
    runs = cycles_below(Q, Period.parse("2026-Q3"))
    assert _keys(runs) == [(M.value, "2026-07"), (M.value, "2026-08"), (M.value, "2026-09")]


def test_a_half_years_run_needs_both_its_quarters_in_order() -> None:
    assert _keys(cycles_below(H, "2026-H2")) == [(Q.value, "2026-Q3"), (Q.value, "2026-Q4")]


def test_the_years_run_needs_both_half_years_in_order() -> None:
    runs = cycles_below(Cycle.ANNUAL_ASSESSMENT, "2026")
    assert _keys(runs) == [(H.value, "2026-H1"), (H.value, "2026-H2")]


def test_following_the_chain_down_from_the_year_reaches_every_month_once() -> None:
    def months(cycle: Cycle, period: Period) -> list[str]:
        below = cycles_below(cycle, period)
        if not below:
            return [period.key]
        return [m for c, p in below for m in months(c, p)]

    assert months(Cycle.ANNUAL_ASSESSMENT, Period.whole_year(2026)) == [
        f"2026-{m:02d}" for m in range(1, 13)
    ]


@pytest.mark.parametrize("cycle", [Cycle.MONTHLY_ANALYSIS, Cycle.PRE_DEADLINE_REMINDER])
def test_the_monthly_cycles_build_on_no_cycle(cycle: Cycle) -> None:
    assert cycles_below(cycle, "2026-03") == []


def test_a_period_of_the_wrong_kind_is_refused_saying_which() -> None:
    with pytest.raises(PeriodError, match="2026-09"):
        cycles_below(Q, "2026-09")
