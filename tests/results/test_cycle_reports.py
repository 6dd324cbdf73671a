"""What the higher cycles publish (models.plans.cycle_reports): written from the year's rules."""

from __future__ import annotations

from decimal import Decimal

from models.plans.burden import burden_markdown
from models.plans.cycle_reports import (
    annual_results_publication,
    annual_summary,
    grade_rule_text,
    half_year_publication,
    quarterly_report,
    settlement_rule_text,
)
from models.plans.monthly import IndicatorSnap, UnitSnap
from models.plans.results import DecemberCell, plan_annual
from models.rules import Direction, IndicatorSpec, Period, YearRules, final_deduction
from tests.results.test_burden import COUNTS

UNITS = [UnitSnap(1, "U1", "甲县", "key_development", True),
         UnitSnap(2, "U2", "乙县", "key_development", True)]  # fmt: skip
IND = IndicatorSnap(
    10, "I10", "指标", Decimal(10), IndicatorSpec(Direction.INCREASE, target=Decimal(100)),
    frozenset({"key_development"}),
)  # fmt: skip


def test_the_grade_prose_states_the_rulebooks_default_rule() -> None:
    assert grade_rule_text(YearRules()) == (
        "等次：优秀（≥90分且居类别前30%）、良好（≥80）、一般（≥60）、较差（<60）"
    )


def test_the_grade_prose_follows_the_years_changed_rules() -> None:
    rules = YearRules(
        excellent_min_score="92.5", excellent_top_share="0.25",
        good_min_score=85, fair_min_score=65,
    )  # fmt: skip
    assert grade_rule_text(rules) == (
        "等次：优秀（≥92.5分且居类别前25%）、良好（≥85）、一般（≥65）、较差（<65）"
    )


def test_the_annual_report_cites_the_years_grade_rule() -> None:
    rules = YearRules(excellent_min_score=95, excellent_top_share="0.2")
    plan = plan_annual(UNITS, [IND], {}, {}, rules)
    pub = annual_results_publication(Period.whole_year(2026), plan.results, [], UNITS, rules)
    assert "优秀（≥95分且居类别前20%）" in pub.markdown
    assert pub.key == "annual-assessment-2026" and pub.title == "2026 年度考核"


def test_the_settlement_prose_and_the_final_deduction_follow_the_scoring_cap() -> None:
    assert "min(完成度, 1)" in settlement_rule_text(YearRules())
    assert final_deduction(10, Decimal("0.8")) == Decimal("2.00")
    tighter = YearRules(scoring_completion_cap="0.9")
    assert "min(完成度, 0.9)" in settlement_rule_text(tighter)
    assert final_deduction(10, Decimal("1.1"), tighter) == Decimal("1.00")


def test_the_year_settles_december_then_grades_and_counts_the_grades() -> None:
    december = {(1, 10): DecemberCell("green", Decimal(1)),
                (2, 10): DecemberCell("missing", None)}  # fmt: skip
    plan = plan_annual(UNITS, [IND], december, {(2, 10): Decimal(5)}, YearRules())
    assert [(s.unit_id, s.amount) for s in plan.settlements] == [(2, Decimal("5.00"))]
    assert {r.unit_id: r.score for r in plan.results} == {1: Decimal(100), 2: Decimal(0)}
    summary = annual_summary(Period.whole_year(2026), plan.results, plan.settlements, {}, [])
    assert summary["grades"] == {"excellent": 1, "poor": 1}
    assert summary["settlement_change"] == "5.00"


def test_the_burden_report_cites_the_years_low_discrimination_threshold() -> None:
    assert "变异系数均低于0.05" in burden_markdown(COUNTS)
    text = burden_markdown(COUNTS, rules=YearRules(low_discrimination_cv="0.08"))
    assert "变异系数均低于0.08" in text and "0.05" not in text


def test_the_quarterly_report_counts_every_month_and_says_only_that_a_draw_was_made() -> None:
    levels = {(1, "2026-01"): ["red"], (1, "2026-02"): ["missing"], (2, "2026-03"): ["red"]}
    report = quarterly_report(Period.quarter(2026, 1), UNITS, levels, frozenset({1}))
    assert report.summary["months"] == ["2026-01", "2026-02", "2026-03"]
    assert (report.summary["red"], report.summary["missing"]) == (2, 1)
    assert report.summary["onsite_draw"] == "done"
    assert "甲县" in report.publication.markdown and "实地核查抽样" in report.publication.markdown


def test_the_half_year_report_states_the_score_rule_to_its_last_month() -> None:
    plan = plan_annual(UNITS, [IND], {}, {}, YearRules())
    pub = half_year_publication(Period.half(2026, 1), plan.results, UNITS)
    assert "截至 2026-06 月分析" in pub.markdown and pub.key == "half-year-evaluation-2026-h1"
