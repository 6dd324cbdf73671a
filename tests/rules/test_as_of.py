"""What stood at the end of a month, as pure functions: the ledgers and the negative list
by valid month, months passed over when unavailable, monthly reruns and late months that
end where an in-order run ends, and result versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from models.plans.as_of import (
    CellRow,
    LedgerRow,
    NegativeEventRow,
    deductions_as_of,
    ledger_sums_as_of,
    negative_list_as_of,
)
from models.plans.monthly import IndicatorSnap, MonthSnapshot, UnitSnap, plan_monthly_analysis
from models.plans.result_versions import (
    StoredVersionRow,
    plan_result_version,
    restatement_notice,
    version_history_lines,
)
from models.plans.results import UnitResult
from models.rules import (
    DEFAULT_RULES,
    UNAVAILABLE,
    Direction,
    Grade,
    IndicatorSpec,
    Level,
    Observation,
    Period,
    negative_list_history,
)

SPEC = IndicatorSpec(Direction.INCREASE, target=Decimal(120))  # expected 10 × month
A = IndicatorSnap(1, "A", "指标甲", Decimal(10), SPEC, frozenset({"a"}))
U1 = UnitSnap(1, "U1", "单位一", "a")
U2 = UnitSnap(2, "U2", "单位二", "a")
AT = datetime(2026, 7, 10, 2, tzinfo=UTC)


def _month(m: int) -> str:
    return f"2026-{m:02d}"


# ------------------------------------------------------------------- as of a month


def test_the_list_as_of_a_month_follows_valid_months_not_booking_order() -> None:
    events = [
        NegativeEventRow(1, "2026-02", 1, "on"),
        NegativeEventRow(2, "2026-10", 1, "off"),
        NegativeEventRow(3, "2026-06", 1, "off"),  # a June rerun booked after October
        NegativeEventRow(4, "2026-06", 1, "on"),  # ... then set right, same month
        NegativeEventRow(5, "2026-03", 2, "on"),
    ]
    assert negative_list_as_of(events, "2026-01") == frozenset()
    assert negative_list_as_of(events, "2026-03") == {1, 2}
    assert negative_list_as_of(events, "2026-06") == {1, 2}
    assert negative_list_as_of(events, "2026-12") == {2}


def test_ledger_sums_as_of_a_month_leave_out_entries_of_later_months() -> None:
    rows = [
        LedgerRow(1, 1, "2026-03", Decimal("3.00")),
        LedgerRow(1, 1, "2026-06", Decimal("-1.00")),
        LedgerRow(1, 1, "2026-10", Decimal("-2.00")),  # an October ruling
        LedgerRow(2, 1, "2026-07", Decimal("5.00")),
    ]
    assert ledger_sums_as_of(rows, "2026-06") == {(1, 1): Decimal("2.00")}
    assert ledger_sums_as_of(rows, "2026-12") == {(1, 1): Decimal(0), (2, 1): Decimal("5.00")}


def test_a_half_years_deduction_is_its_latest_assessed_months_as_of_its_last_month() -> None:
    cells = [
        CellRow(1, 1, "2026-04", True, Decimal("3.00")),
        CellRow(1, 1, "2026-05", True, Decimal("2.00")),
        CellRow(1, 1, "2026-06", False, Decimal(0)),  # unavailable: May's stands
        CellRow(1, 1, "2026-07", True, Decimal("9.00")),
        CellRow(2, 1, "2026-08", True, Decimal("1.00")),
    ]
    assert deductions_as_of(cells, "2026-06") == {(1, 1): Decimal("2.00")}
    assert deductions_as_of(cells, "2026-12") == {(1, 1): Decimal("9.00"), (2, 1): Decimal("1.00")}


def test_an_unavailable_month_neither_puts_a_unit_on_the_list_nor_takes_it_off() -> None:
    listed = negative_list_history(
        {"2026-01": True, "2026-02": True, "2026-03": None, "2026-04": True}
    )
    assert [h.on_list for h in listed] == [False, True, True, True]
    assert not any(h.newly_off for h in listed)
    not_yet = negative_list_history({"2026-01": False, "2026-02": True, "2026-03": None})
    assert [h.on_list for h in not_yet] == [False, False, False]


# --------------------------------------------------- monthly runs against an in-memory store


@dataclass
class Store:
    """The ledgers a sequence of monthly plans leaves (an in-memory stand-in for the tables)."""

    events: list[NegativeEventRow] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)
    flags: dict[int, dict[str, bool | None]] = field(default_factory=dict)
    settled: bool = False

    def snapshot(self, m: int, observations: dict[int, Observation]) -> MonthSnapshot:
        month = _month(m)
        analysed = {k for flags in self.flags.values() for k in flags}
        later = [k for k in analysed if k != month]
        return MonthSnapshot(
            month=Period.parse(month),
            rules=DEFAULT_RULES,
            units=[U1, U2],
            indicators=[A],
            observations={(u, A.id): o for u, o in observations.items()},
            ledger_sums=ledger_sums_as_of(self.ledger, month),
            red_history={
                u: {k: v for k, v in flags.items() if k != month} for u, flags in self.flags.items()
            },
            latest_booked_month=Period.parse(max(later)) if later else None,
            negative_events=list(self.events),
            year_settled=self.settled,
        )

    def run(self, m: int, observations: dict[int, Observation]) -> None:
        plan = plan_monthly_analysis(self.snapshot(m, observations))
        for d in plan.deductions:
            self.ledger.append(LedgerRow(d.unit_id, d.indicator_id, _month(m), d.change.amount))
        for e in plan.negative_events:
            self.events.append(
                NegativeEventRow(len(self.events) + 1, e.period or _month(m), e.unit_id, e.event)
            )
        for r in plan.results:
            level = r.assessment.level
            self.flags.setdefault(r.unit_id, {})[_month(m)] = (
                None if level is Level.UNAVAILABLE else r.assessment.is_red
            )

    def lists(self) -> list[frozenset[int]]:
        return [negative_list_as_of(self.events, _month(m)) for m in range(1, 13)]


GREEN, RED = Decimal(1000), Decimal(1)
# U1: on in March, off in April, on again in June (when May is red);
# U2: on from February, off in May (when May is green).
YEAR: dict[int, dict[int, Observation]] = {
    1: {1: GREEN, 2: RED},
    2: {1: RED, 2: RED},
    3: {1: RED, 2: RED},
    4: {1: GREEN, 2: RED},
    5: {1: RED, 2: GREEN},
    6: {1: RED, 2: RED},
}


def _in_order() -> Store:
    store = Store()
    for m, observations in YEAR.items():
        store.run(m, observations)
    return store


def test_a_late_month_rederives_the_later_months_list_as_an_in_order_run() -> None:
    in_order = _in_order()
    late = Store()
    for m, observations in YEAR.items():
        late.run(m, {u: UNAVAILABLE for u in observations} if m == 5 else observations)
    assert late.lists()[4] == late.lists()[3]  # the unavailable May changed nobody
    assert late.lists()[5] == {2} != in_order.lists()[5]
    late.run(5, YEAR[5])  # the platform serves May at last
    assert late.lists() == in_order.lists()
    assert in_order.lists()[5] == {1}
    assert ledger_sums_as_of(late.ledger, "2026-12") == ledger_sums_as_of(
        in_order.ledger, "2026-12"
    )


def test_a_rerun_of_an_earlier_month_with_unchanged_data_books_nothing() -> None:
    store = _in_order()
    events, ledger = list(store.events), list(store.ledger)
    store.run(3, YEAR[3])
    store.run(6, YEAR[6])
    assert store.events == events
    assert store.ledger == ledger


def test_after_the_annual_settlement_a_monthly_rerun_books_no_deduction() -> None:
    store = _in_order()
    store.settled = True
    ledger = list(store.ledger)
    store.run(6, {1: GREEN, 2: GREEN})  # even with other data than before
    assert store.ledger == ledger


# ------------------------------------------------------------------------ result versions


def _result(unit: int, score: str, rank: int, grade: Grade | None = None) -> UnitResult:
    return UnitResult(unit, "a", Decimal(20), Decimal(20) - Decimal(score) / 5, Decimal(score),
                      rank, grade)  # fmt: skip


def _stored(r: UnitResult, version: int, cause: str) -> StoredVersionRow:
    grade = None if r.grade is None else r.grade.value
    return StoredVersionRow(r.unit_id, r.category, r.score, r.deductions, r.total_weight,
                            r.rank, grade, version, cause, AT)  # fmt: skip


def test_saving_the_same_results_again_adds_no_version() -> None:
    first = [_result(1, "90.00", 1), _result(2, "80.00", 2)]
    assert plan_result_version([], first, "run:1") is not None
    stored = [_stored(r, 1, "run:1") for r in first]
    assert plan_result_version(stored, first, "rerun:2") is None


def test_a_changed_result_becomes_the_next_version_naming_its_cause() -> None:
    first = [_result(1, "90.00", 1), _result(2, "80.00", 2), _result(3, "70.00", 3)]
    stored = [_stored(r, 1, "run:1") for r in first]
    second = [_result(1, "75.00", 2), _result(2, "80.00", 1), _result(3, "70.00", 3)]
    plan = plan_result_version(stored, second, "ruling:7")
    assert plan is not None
    assert (plan.version, plan.cause) == (2, "ruling:7")
    assert [r.unit_id for r in plan.rows] == [1, 2]  # unit 3 is unchanged
    assert {(c.unit_id, c.rank_before, c.rank_after) for c in plan.changes} == {
        (1, 1, 2),
        (2, 2, 1),
    }
    notice = restatement_notice("half_year_evaluation", "2026-H1", plan,
                                {1: ("D04", "甲局"), 2: ("D05", "乙局")}, AT)  # fmt: skip
    assert notice is not None
    assert "2026-H1 半年评估结果第 2 版" in notice.subject
    assert "申诉裁定 7" in notice.text and "甲局（D04）" in notice.text
    history = version_history_lines([*stored, *(_stored(r, 2, "ruling:7") for r in plan.rows)])
    assert "第 2 版" in history[2] and "当前版本" in history[2]
    assert "第 1 版" in history[3] and "历史版本" in history[3]
