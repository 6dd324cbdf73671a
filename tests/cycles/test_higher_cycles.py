"""The quarterly, half-year and backfill flows on a real Prefect server, against the simulator."""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from flows.annual_assessment import annual_assessment
from flows.backfill_cycles import backfill_cycles
from flows.half_year_evaluation import half_year_evaluation
from flows.monthly_analysis import monthly_analysis
from flows.quarterly_monitoring import quarterly_monitoring
from models.plans.monthly import IndicatorSnap, UnitSnap
from models.plans.results import DecemberCell, plan_results, plan_settlement
from models.rules import SHANGHAI, Direction, IndicatorSpec

pytestmark = [pytest.mark.flow, pytest.mark.db, pytest.mark.http]


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql)).all()]


def _runs(engine: Engine) -> dict[tuple[str, str], tuple[str, int]]:
    rows = _rows(engine, "SELECT cycle, period, status, attempts FROM cycle_run")
    return {(c, p): (s, a) for c, p, s, a in rows}


LEDGER = "SELECT id, unit_id, indicator_id, period, kind, stage, amount FROM deduction_entry"


def test_a_quarterly_run_after_its_monthly_run_redoes_nothing(
    prefect_server: None, settings_env: Engine
) -> None:
    engine = settings_env
    assert monthly_analysis(period="2026-03", return_state=True).is_completed()
    ledger = _rows(engine, LEDGER)
    state = quarterly_monitoring(period="2026-Q1", return_state=True)
    assert state.is_completed()
    runs = _runs(engine)
    for month in ("2026-01", "2026-02", "2026-03"):  # every month of the quarter, once
        assert runs[("monthly_analysis", month)] == ("completed", 1)
    assert runs[("quarterly_monitoring", "2026-Q1")] == ("completed", 1)
    assert _rows(engine, LEDGER) == ledger
    again = quarterly_monitoring(period="2026-03", return_state=True)  # the closing month
    assert "already completed" in (again.message or "")
    assert _runs(engine) == runs


def test_the_half_year_ranks_every_unit_inside_its_category(
    prefect_server: None, settings_env: Engine
) -> None:
    engine = settings_env
    assert half_year_evaluation(period="2026-H1", return_state=True).is_completed()
    runs = _runs(engine)
    for key in [
        ("monthly_analysis", "2026-06"),
        ("quarterly_monitoring", "2026-Q2"),
        ("half_year_evaluation", "2026-H1"),
    ]:
        assert runs[key] == ("completed", 1)
    results = _rows(
        engine,
        "SELECT unit_id, category, score, rank, grade, cycle, period FROM result_entry",
    )
    units = _rows(engine, "SELECT id FROM unit WHERE on_platform")
    assert sorted(r[0] for r in results) == sorted(u[0] for u in units)  # 无平台数据: no row
    off = _rows(engine, "SELECT code FROM unit WHERE NOT on_platform ORDER BY code")
    summary = _rows(engine, "SELECT summary FROM cycle_run WHERE cycle = 'half_year_evaluation'")[
        0
    ][0]
    summary = summary if isinstance(summary, dict) else json.loads(summary)
    assert off and summary["no_platform_data"] == [c for (c,) in off]
    assert {(r[5], r[6]) for r in results} == {("half_year_evaluation", "2026-H1")}
    assert all(r[4] is None for r in results)
    by_category: dict[str, list[tuple[Decimal, int]]] = defaultdict(list)
    for _unit, category, score, rank, *_ in results:
        by_category[category].append((Decimal(str(score)), rank))
    for members in by_category.values():
        members.sort(key=lambda m: -m[0])
        for position, (score, rank) in enumerate(members, start=1):
            better = sum(1 for s, _ in members if s > score)
            assert rank == better + 1 <= position
    assert half_year_evaluation(period="2026-H1", return_state=True).is_completed()
    assert len(_rows(engine, "SELECT id FROM result_entry")) == len(results)


def test_backfill_runs_exactly_the_missing_months_in_order(
    prefect_server: None, settings_env: Engine
) -> None:
    engine = settings_env
    for month in ("2026-02", "2026-04"):
        assert monthly_analysis(period=month, return_state=True).is_completed()
    planned = backfill_cycles(first="2026-01", last="2026-06", dry_run=True)
    assert planned == ["2026-01", "2026-03", "2026-05", "2026-06"]
    assert set(_runs(engine)) == {("monthly_analysis", "2026-02"), ("monthly_analysis", "2026-04")}
    ran = backfill_cycles(first="2026-01", last="2026-06", mode="missing")
    assert ran == ["2026-01", "2026-03", "2026-05", "2026-06"]
    runs = _runs(engine)
    months = [f"2026-0{m}" for m in range(1, 7)]
    assert set(runs) == {("monthly_analysis", m) for m in months}
    assert all(runs[("monthly_analysis", m)] == ("completed", 1) for m in months)
    assert backfill_cycles(first="2026-01", last="2026-06", mode="failed") == []
    assert backfill_cycles(cycle="quarterly_monitoring", dry_run=True) == ["2026-Q1", "2026-Q2"]


def test_a_parallel_backfill_needs_the_cycles_deployment(prefect_server: None) -> None:
    from flows.backfill_cycles import require_deployment

    with pytest.raises(ValueError, match="prefect deploy --all"):
        require_deployment("monthly_analysis/no-such-deployment")


def test_backfill_refuses_a_cycle_without_a_flow_or_runs_it(
    prefect_server: None, settings_env: Engine
) -> None:
    if importlib.util.find_spec("flows.pre_deadline_reminder") is None:
        with pytest.raises(ValueError, match="pre_deadline_reminder"):
            backfill_cycles(cycle="pre_deadline_reminder", dry_run=True)
    else:
        assert backfill_cycles(cycle="pre_deadline_reminder", dry_run=True) == [
            f"2026-0{m}" for m in range(1, 7)
        ]


# ------------------------------------------------------------------- the pure plans

_SPEC = IndicatorSpec(Direction.INCREASE, target=Decimal(100))


def _ind(id_: int, weight: str, *categories: str) -> IndicatorSnap:
    return IndicatorSnap(
        id_, f"I{id_}", f"指标{id_}", Decimal(weight), _SPEC, frozenset(categories)
    )


def test_plan_results_scores_ranks_and_grades_per_category() -> None:
    units = [UnitSnap(i, f"U{i}", f"单位{i}", "a" if i <= 4 else "b") for i in range(1, 7)]
    indicators = [_ind(1, "10", "a", "b"), _ind(2, "10", "a")]
    sums = {(2, 1): Decimal("1"), (3, 1): Decimal("1"), (4, 2): Decimal("10"), (6, 1): Decimal(5)}
    results = {r.unit_id: r for r in plan_results(units, indicators, sums)}
    assert [results[u].score for u in (1, 2, 3, 4)] == [
        Decimal("100.00"), Decimal("95.00"), Decimal("95.00"), Decimal("50.00")
    ]  # fmt: skip
    assert [results[u].rank for u in (1, 2, 3, 4, 5, 6)] == [1, 2, 2, 4, 1, 2]
    assert results[4].total_weight == Decimal(20) and results[4].deductions == Decimal(10)
    assert all(r.grade is None for r in results.values())
    graded = {r.unit_id: r.grade for r in plan_results(units, indicators, sums, with_grades=True)}
    # 4 units in "a": the top share is ceil(0.3 × 4) = 2 places, so rank 2 still counts
    assert [g.label if g else None for g in (graded[1], graded[2], graded[4])] == [
        "优秀", "优秀", "较差"
    ]  # fmt: skip


def test_plan_settlement_books_final_minus_current() -> None:
    december = {
        (1, 1): DecemberCell("green", Decimal("1.2")),  # final 0, pre 2 → −2
        (1, 2): DecemberCell("missing", None),  # final = weight 10, pre 5 → +5
        (2, 1): DecemberCell("unavailable", None),  # keeps its sum
        (2, 2): DecemberCell("red", Decimal("0.5")),  # final 5, pre 5 → nothing
        (3, 1): DecemberCell("orange", Decimal("0.8")),  # final 2, pre 0 → +2
    }
    sums = {(1, 1): Decimal(2), (1, 2): Decimal(5), (2, 1): Decimal(3), (2, 2): Decimal(5)}
    entries = plan_settlement(december, {1: Decimal(10), 2: Decimal(10)}, sums)
    assert [(s.unit_id, s.indicator_id, s.amount) for s in entries] == [
        (1, 1, Decimal("-2.00")),
        (1, 2, Decimal("5.00")),
        (3, 1, Decimal("2.00")),
    ]


@pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning")  # 2027's deadline
def test_the_annual_assessment_settles_and_grades_the_year(
    prefect_server: None, settings_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = settings_env
    # After the annual time (2027-01-06 12:00): before it, the year is refused (not due).
    after = datetime(2027, 1, 8, 9, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr("flows.common.time_source", lambda: after)
    state = annual_assessment(period="2026", return_state=True)
    assert state.is_completed(), state.message
    runs = _runs(engine)
    assert runs[("annual_assessment", "2026")] == ("completed", 1)
    assert runs[("half_year_evaluation", "2026-H2")] == ("completed", 1)
    settled = _rows(engine, "SELECT kind FROM deduction_entry WHERE stage = 'final'")
    assert settled and {k for (k,) in settled} == {"settled"}
    results = _rows(engine, "SELECT grade FROM result_entry WHERE cycle = 'annual_assessment'")
    assert results and all(g in ("excellent", "good", "fair", "poor") for (g,) in results)
    ledger = _rows(engine, LEDGER)
    assert annual_assessment(period="2026-12", return_state=True).is_completed()
    assert _rows(engine, LEDGER) == ledger
