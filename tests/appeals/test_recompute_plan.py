"""The recomputation as a pure plan, on a small hand-made unit: what each ruling changes,
and that a plan applied to its own snapshot plans nothing more."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from models.plans.monthly import IndicatorSnap, MonthSnapshot, UnitSnap, WarningState
from models.plans.recompute import (
    CellState,
    LedgerKeyState,
    NegativeEventRow,
    RecomputeError,
    RecomputePlan,
    RecomputeSnapshot,
    ResultSet,
    RulingRef,
    StoredResult,
    decision_reason,
    latest_rulings,
    plan_monthly_analysis_with_rulings,
    plan_recompute,
)
from models.rules import (
    DEFAULT_RULES,
    Direction,
    IndicatorSpec,
    Period,
    Ruling,
    RulingKind,
    assess,
)

SPEC = IndicatorSpec(Direction.INCREASE, target=Decimal(120))  # expected 10 × month
A = IndicatorSnap(1, "A", "指标甲", Decimal(10), SPEC, frozenset({"a"}))
B = IndicatorSnap(2, "B", "指标乙", Decimal(10), SPEC, frozenset({"a"}))
U1 = UnitSnap(1, "U1", "单位一", "a")
AT = datetime(2026, 5, 20, 2, tzinfo=UTC)


def _cell(indicator: IndicatorSnap, month: int, value: str) -> CellState:
    return CellState.of(assess(indicator.spec, indicator.weight, month, Decimal(value)))


def _ref(
    kind: RulingKind, month: str, indicator: int = 1, id_: int = 1, **kw: Decimal
) -> RulingRef:
    return RulingRef(id_, id_, indicator, month, Ruling(kind, **kw), AT)


def _four_months(ruling: RulingRef) -> RecomputeSnapshot:
    """January–April analysed; A: 10 (green), 5 (red 7.50), 15 (red 5.00), 20 (red 5.00),
    booked in order (+7.50, −2.50); on the negative list from March."""
    values = {1: "10", 2: "5", 3: "15", 4: "20"}
    cells = {(1, f"2026-{m:02d}"): _cell(A, m, v) for m, v in values.items()}
    cells.update({(2, f"2026-{m:02d}"): _cell(B, m, str(10 * m)) for m in values})
    observations = {(1, f"2026-{m:02d}"): Decimal(v) for m, v in values.items()}
    return RecomputeSnapshot(
        ruling=ruling,
        rules=DEFAULT_RULES,
        unit=U1,
        indicators=[A, B],
        cells=cells,
        raw_observations={k: v for k, v in observations.items() if k == (1, ruling.month)},
        rulings=[ruling],
        ledger={1: LedgerKeyState(Decimal("5.00"), 2)},
        warnings={(1, ruling.month): WarningState(7, "red")},
        red_before={},
        negative_events=[NegativeEventRow(1, "2026-03", "on")],
        settled=False,
        results=[],
    )


def _applied(s: RecomputeSnapshot, plan: RecomputePlan) -> RecomputeSnapshot:
    """The snapshot once the plan is booked (what a second run would read)."""
    cells = dict(s.cells)
    for c in plan.cells:
        cells[(c.indicator_id, c.month)] = c.after
    ledger = dict(s.ledger)
    for n, d in enumerate(plan.deductions, start=100):
        old = ledger.get(d.indicator_id, LedgerKeyState(Decimal(0), None))
        ledger[d.indicator_id] = LedgerKeyState(old.total + d.amount, n)
    warnings = dict(s.warnings)
    for n, w in enumerate(plan.warnings, start=100):
        warnings[(w.indicator_id, w.month)] = WarningState(n, w.level)
    events = list(s.negative_events) + [
        NegativeEventRow(n, e.month, e.event) for n, e in enumerate(plan.negative_events, 100)
    ]
    results = []
    for rs in s.results:
        rows = dict(rs.rows)
        for r in plan.results:
            if (r.cycle, r.period) == (rs.cycle, rs.period):
                rows[r.unit_id] = StoredResult(0, r.unit_id, r.category, r.score, r.deductions,
                                               r.total_weight, r.rank, r.grade, None)  # fmt: skip
        results.append(ResultSet(rs.cycle, rs.period, rows))
    return dataclasses.replace(
        s, cells=cells, ledger=ledger, warnings=warnings, negative_events=events, results=results
    )


def test_a_correction_of_an_earlier_month_changes_its_cell_warning_and_negative_list_only() -> None:
    s = _four_months(_ref(RulingKind.CORRECTED, "2026-03", corrected_value=Decimal(30)))
    plan = plan_recompute(s)
    assert [
        (c.month, c.before.level, c.after.level, c.after.pre_deduction) for c in plan.cells
    ] == [("2026-03", "red", "green", Decimal("0.00"))]
    assert plan.deductions == ()  # the ledger holds April's deduction, which stands
    assert [(w.month, w.level, w.corrects_id) for w in plan.warnings] == [("2026-03", "green", 7)]
    assert [(e.month, e.event) for e in plan.negative_events] == [("2026-03", "off")]
    assert plan.months == ("2026-03", "2026-04")
    assert _applied(s, plan) != s and plan_recompute(_applied(s, plan)).changes_nothing


def test_a_waiver_of_the_latest_month_releases_the_deduction_and_keeps_the_level() -> None:
    s = _four_months(_ref(RulingKind.WAIVED, "2026-04"))
    plan = plan_recompute(s)
    (d,) = plan.deductions
    assert (d.kind, d.stage, d.amount, d.corrects_id, d.new_sum) == (
        "released", "pre", Decimal("-5.00"), 2, Decimal("0.00")
    )  # fmt: skip
    assert [(c.after.level, c.after.pre_deduction) for c in plan.cells] == [
        ("red", Decimal("0.00"))
    ]
    assert plan.warnings == () and plan.negative_events == ()
    assert plan_recompute(_applied(s, plan)).changes_nothing


def test_a_reduction_cuts_the_months_deduction_by_its_share() -> None:
    s = _four_months(_ref(RulingKind.REDUCED, "2026-04", share=Decimal("0.3")))
    (d,) = plan_recompute(s).deductions
    assert (d.kind, d.amount, d.new_sum) == ("adjusted", Decimal("-1.50"), Decimal("3.50"))


def test_a_rejection_plans_nothing_and_does_not_undo_an_earlier_ruling() -> None:
    waived = _ref(RulingKind.WAIVED, "2026-04", id_=1)
    rejected = dataclasses.replace(_ref(RulingKind.REJECTED, "2026-04", id_=2))
    assert latest_rulings([waived, rejected]) == {(1, "2026-04"): waived}
    assert plan_recompute(_four_months(rejected)).changes_nothing


def test_a_month_not_yet_analysed_cannot_be_recomputed() -> None:
    s = _four_months(_ref(RulingKind.WAIVED, "2026-05"))
    with pytest.raises(RecomputeError, match="not been analysed"):
        plan_recompute(s)


def _stored(unit: int, score: str, d: str, rank: int, grade: str) -> StoredResult:
    return StoredResult(unit, unit, "a", Decimal(score), Decimal(d), Decimal(20), rank, grade, 9)


def test_a_settled_waiver_re_ranks_and_re_grades_the_whole_category() -> None:
    ruling = _ref(RulingKind.WAIVED, "2026-12")
    annual = ResultSet(
        "annual_assessment",
        "2026",
        {
            1: _stored(1, "75.00", "5.00", 3, "fair"),
            2: _stored(2, "80.00", "4.00", 1, "good"),
            3: _stored(3, "78.00", "4.40", 2, "fair"),
        },
    )
    s = RecomputeSnapshot(
        ruling=ruling,
        rules=DEFAULT_RULES,
        unit=U1,
        indicators=[A, B],
        cells={(1, "2026-12"): _cell(A, 12, "60"), (2, "2026-12"): _cell(B, 12, "120")},
        raw_observations={(1, "2026-12"): Decimal(60)},
        rulings=[ruling],
        ledger={1: LedgerKeyState(Decimal("5.00"), 10)},
        warnings={},
        red_before={},
        negative_events=[],
        settled=True,
        results=[annual],
    )
    plan = plan_recompute(s)
    (d,) = plan.deductions
    assert (d.kind, d.stage, d.amount, d.corrects_id) == ("settled", "final", Decimal("-5.00"), 10)
    assert [(r.unit_id, r.score, r.rank, r.grade) for r in plan.results] == [
        (1, Decimal("100.00"), 1, "excellent"),
        (2, Decimal("80.00"), 2, "good"),
        (3, Decimal("78.00"), 3, "fair"),
    ]
    assert all(r.rank_or_grade_changed for r in plan.results)
    assert plan_recompute(_applied(s, plan)).changes_nothing


def _month(observation: Decimal) -> MonthSnapshot:
    return MonthSnapshot(
        month=Period.parse("2026-02"),
        rules=DEFAULT_RULES,
        units=[U1],
        indicators=[A],
        observations={(1, 1): observation},
    )


def test_a_monthly_run_keeps_the_months_rulings() -> None:
    snapshot = _month(Decimal(5))  # red, 7.50
    plain = plan_monthly_analysis_with_rulings(snapshot, {})
    assert [d.change.amount for d in plain.deductions] == [Decimal("7.50")]
    waived = plan_monthly_analysis_with_rulings(snapshot, {(1, 1): Ruling(RulingKind.WAIVED)})
    assert waived.deductions == () and waived.results[0].assessment.pre_deduction == 0
    assert waived.results[0].assessment.level.value == "red"
    reduced = plan_monthly_analysis_with_rulings(
        snapshot, {(1, 1): Ruling(RulingKind.REDUCED, share=Decimal("0.4"))}
    )
    assert [d.change.amount for d in reduced.deductions] == [Decimal("4.50")]
    corrected = plan_monthly_analysis_with_rulings(
        snapshot, {(1, 1): Ruling(RulingKind.CORRECTED, corrected_value=Decimal(20))}
    )
    assert corrected.deductions == () and corrected.results[0].assessment.level.value == "green"
    assert corrected.warnings == ()


def test_the_unit_reads_each_ruling_in_chinese() -> None:
    after = _cell(A, 3, "30")
    text = decision_reason(
        Ruling(RulingKind.CORRECTED, corrected_value=Decimal("30.0")),
        "平台数据录入有误",
        "青考办〔2026〕8号",
        "2026-03",
        after,
        "亿元",
    )
    assert text == (
        "复查意见：平台数据录入有误（依据：青考办〔2026〕8号）。"
        "2026年3月该指标数值更正为30亿元，复查后等级为正常、预扣分0.00分。"
    )
    reduced = decision_reason(
        Ruling(RulingKind.REDUCED, share=Decimal("0.5")), "", "", "2026-03", after
    )
    assert "扣分减轻50%" in reduced and reduced.startswith("复查意见：减轻扣分。")
    rejected = decision_reason(Ruling(RulingKind.REJECTED), "数据无误", "", "2026-03", after)
    assert rejected == "复查意见：数据无误。"
