"""No data is not full marks (rulebook section 6): 无平台数据 is out of weight, ranks and grades."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.persistence.tables import MonthlyAssessment
from models.plans.cycle_reports import (
    annual_results_publication,
    annual_summary,
    half_year_publication,
)
from models.plans.monthly import IndicatorSnap, UnitSnap
from models.plans.results import DecemberCell, data_gaps, plan_annual, plan_results
from models.rules import Direction, IndicatorSpec, Level, Period, YearRules
from tasks.monthly import load_indicators, load_units
from tasks.results import load_result_inputs


def _ind(id_: int, code: str, weight: str) -> IndicatorSnap:
    spec = IndicatorSpec(Direction.INCREASE, target=Decimal(100))
    return IndicatorSnap(id_, code, f"指标{code}", Decimal(weight), spec, frozenset({"A"}))


UNITS = [
    UnitSnap(1, "U1", "一号单位", "A"),
    UnitSnap(2, "U2", "二号单位", "A"),
    UnitSnap(3, "U3", "三号单位", "A", on_platform=False),
]
IND = [_ind(10, "I10", "6"), _ind(11, "I11", "4")]
EVERY_PAIR = {(u.id, i.id) for u in UNITS for i in IND}
NO_U3 = EVERY_PAIR - {(3, 10), (3, 11)}


def test_a_unit_with_no_platform_data_gets_no_score_rank_or_grade() -> None:
    sums = {(1, 10): Decimal("1.00"), (2, 10): Decimal("3.00")}

    without = {r.unit_id: r for r in plan_results(UNITS, IND, sums, with_grades=True)}
    assert without[3].score == Decimal("100.00") and without[3].rank == 1  # the old fault

    results = plan_results(UNITS, IND, sums, with_grades=True, with_data=NO_U3)
    by_unit = {r.unit_id: r for r in results}
    assert set(by_unit) == {1, 2}
    assert (by_unit[1].rank, by_unit[2].rank) == (1, 2)
    assert by_unit[1].score == Decimal("90.00")
    assert by_unit[1].grade is not None and by_unit[1].grade.label == "优秀"  # top 30 % of 2


def test_an_indicator_without_data_all_period_is_out_of_the_units_weight() -> None:
    sums = {(1, 10): Decimal("3.00"), (1, 11): Decimal("2.00")}
    with_data = EVERY_PAIR - {(1, 11)}

    (u1,) = [r for r in plan_results(UNITS, IND, sums, with_data=with_data) if r.unit_id == 1]

    assert u1.total_weight == Decimal(6)
    assert u1.deductions == Decimal("3.00")  # the indicator's deduction is out of D too
    assert u1.score == Decimal("50.00")


def test_the_gaps_list_every_indicator_without_data_and_whether_the_unit_is_scored() -> None:
    gaps = data_gaps(UNITS, IND, EVERY_PAIR - {(1, 11), (3, 10), (3, 11)})

    assert [(g.unit_code, g.scored, len(g.indicators)) for g in gaps] == [
        ("U1", True, 1),
        ("U3", False, 2),
    ]
    assert gaps[0].indicators == ("指标I11（I11）",)


def test_the_annual_plan_grades_only_units_with_data_and_the_report_lists_the_others() -> None:
    december = {(u, i): DecemberCell(Level.GREEN.value, Decimal(1)) for u, i in NO_U3}
    december |= {(3, 10): DecemberCell(Level.UNAVAILABLE.value, None)}
    december |= {(3, 11): DecemberCell(Level.UNAVAILABLE.value, None)}
    rules = YearRules()

    plan = plan_annual(UNITS, IND, december, {}, rules, with_data=NO_U3)
    gaps = data_gaps(UNITS, IND, NO_U3)

    assert {r.unit_id for r in plan.results} == {1, 2}
    assert all(s.unit_id != 3 for s in plan.settlements)
    year = Period.parse("2026")
    pub = annual_results_publication(year, plan.results, plan.settlements, UNITS, rules, gaps=gaps)
    assert "## 无平台数据（待考核办决定）" in pub.markdown
    assert "三号单位（U3）" in pub.markdown and "不参与排名和定等" in pub.markdown
    assert all(row["单位"] != "三号单位" for row in pub.table or [])
    summary = annual_summary(year, plan.results, plan.settlements, 2, [], gaps)
    assert summary["no_platform_data"] == ["U3"] and summary["units"] == 2
    half = half_year_publication(Period.parse("2026-H1"), plan.results, UNITS, gaps=gaps)
    assert "三号单位（U3）" in half.markdown


@pytest.mark.db
def test_the_result_inputs_know_which_units_and_indicators_had_data_up_to_the_period(
    catalog_db: Engine,
) -> None:
    now = datetime(2026, 8, 1, tzinfo=UTC)
    with session_scope(catalog_db) as session:
        units = load_units(session)
        indicators = load_indicators(session, 2026)
        on, off = units[0], next(u for u in units if not u.on_platform)
        ind = next(i for i in indicators if on.category in i.categories)

        def cell(unit_id: int, month: str, level: Level) -> MonthlyAssessment:
            return MonthlyAssessment(
                year=2026,
                period=month,
                unit_id=unit_id,
                indicator_id=ind.id,
                level=level.value,
                pre_deduction=Decimal(0),
                computed_at=now,
            )

        session.add(cell(on.id, "2026-03", Level.GREEN))
        session.add(cell(off.id, "2026-03", Level.UNAVAILABLE))
        session.add(cell(off.id, "2026-07", Level.RED))  # after June: not H1's

    with session_scope(catalog_db) as session:
        h1 = load_result_inputs(session, 2026, through="2026-06")
        year = load_result_inputs(session, 2026, through="2026-12")

    assert (on.id, ind.id) in h1.with_data
    assert (off.id, ind.id) not in h1.with_data
    assert (off.id, ind.id) in year.with_data
    h1_gaps = {g.unit_code: g for g in h1.gaps}
    assert off.code in h1_gaps and not h1_gaps[off.code].scored
    h1_scored = plan_results(h1.units, h1.indicators, h1.ledger_sums, with_data=h1.with_data)
    assert off.id not in {r.unit_id for r in h1_scored}
    assert on.id in {r.unit_id for r in h1_scored}
