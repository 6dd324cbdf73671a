"""Recomputing one unit after a ruling (申诉复查后重新核算), as a pure plan.

A ruling changes one month's observation of one (unit, indicator): ``corrected``
puts the right value in its place, ``waived`` leaves no deduction for that month,
``reduced`` cuts that month's deduction by a share, ``rejected`` changes nothing
(rulebook section 7, ``models.rules.rulings``). The unit's results are then
recomputed for that month and every later month already analysed in the year:

- each ruled cell (``MonthlyAssessment``) is assessed again from the platform's
  observation with the cell's latest effective, non-rejected ruling applied;
- the deduction ledger of each ruled (unit, indicator, year) is taken to what a
  computation with the rulings applied from the start would hold: the
  pre-deduction of the latest analysed month, or, once the year is settled, the
  final deduction on December's completion (cut by a December waiver or
  reduction). One correcting entry per key, pointing to the key's latest entry;
- the warning ledger gets a correcting entry where a ruled month's level changed;
- the negative list gets an ``on``/``off`` event in each month whose membership
  changes (a month's membership is the latest event, by booking order, of a month
  at or before it);
- published results: the unit's half-year running scores (the ledger as of the
  half's closing month) and annual score are recomputed, then the ranks (and, at
  the annual assessment, the grades) of its whole category; a new result row is
  booked for every unit whose row changes. (The negative list and the results are
  left as they stand when the rulings changed no cell and no ledger: a rejection.)

``plan_recompute`` decides all of it from a ``RecomputeSnapshot`` (one unit's
cells, ledgers and rulings, and its category's latest results); applied to the
state it produces it plans nothing, so a second run books nothing.

``plan_monthly_analysis_with_rulings`` is the monthly analysis with the month's
effective rulings applied: what a monthly run (or a fresh recomputation of the
year) does so that a forced rerun keeps the rulings.

Nothing here reads a database or the clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from models.messages import AppealDecision, UnitDigest
from models.plans.monthly import (
    DeductionBooking,
    IndicatorSnap,
    MonthlyPlan,
    MonthSnapshot,
    UnitSnap,
    WarningState,
    plan_monthly_analysis,
)
from models.rules import (
    MISSING,
    Assessment,
    Grade,
    Level,
    Observation,
    Period,
    Ruling,
    RulingKind,
    YearRules,
    apply_ruling,
    assess,
    final_deduction,
    grades,
    negative_list_history,
    plan_entry,
    rank_competition,
    round_points,
    ruled_amount,
    running_score,
)

__all__ = [
    "ANNUAL",
    "HALF_YEAR",
    "CellState",
    "CellUpdate",
    "DeductionCorrection",
    "LedgerKeyState",
    "NegativeCorrection",
    "NegativeEventRow",
    "RecomputeError",
    "RecomputePlan",
    "RecomputeSnapshot",
    "ResultCorrection",
    "ResultSet",
    "RulingRef",
    "StoredResult",
    "WarningCorrection",
    "appeal_outcome_digest",
    "decision_reason",
    "final_with_ruling",
    "latest_rulings",
    "plan_monthly_analysis_with_rulings",
    "plan_recompute",
    "ruled_assessment",
]

ZERO = Decimal(0)
VALUE_PLACES = Decimal("0.000001")
HALF_YEAR = "half_year_evaluation"
ANNUAL = "annual_assessment"
RED_LEVELS = frozenset({Level.RED.value, Level.MISSING.value})


def _stored(value: Decimal | None) -> Decimal | None:
    """A value as a ``Numeric(20, 6)`` column keeps it."""
    return None if value is None else value.quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)


class RecomputeError(ValueError):
    """The ruling cannot be recomputed (e.g. its month has not been analysed yet)."""


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class CellState:
    """A (unit, indicator, month)'s stored assessment (``MonthlyAssessment``)."""

    level: str
    expected: Decimal | None
    actual: Decimal | None
    completion: Decimal | None
    pre_deduction: Decimal

    @classmethod
    def of(cls, a: Assessment) -> CellState:
        """The assessment as stored: values and completion to the column's 6 decimals
        (the annual settlement reads the stored completion)."""
        return cls(
            a.level.value,
            _stored(a.expected),
            _stored(a.actual),
            _stored(a.completion),
            a.pre_deduction,
        )

    @property
    def assessed(self) -> bool:
        return self.level != Level.UNAVAILABLE.value

    @property
    def is_red(self) -> bool:
        return self.level in RED_LEVELS


@dataclass(frozen=True)
class RulingRef:
    """An effective ruling on one of the unit's cells (``month``: the appealed month)."""

    id: int
    appeal_id: int
    indicator_id: int
    month: str
    ruling: Ruling
    effective_at: datetime
    reason: str = ""
    document_ref: str = ""


@dataclass(frozen=True)
class LedgerKeyState:
    """A (unit, indicator, year)'s deduction ledger: its sum and its latest entry."""

    total: Decimal
    latest_id: int | None


@dataclass(frozen=True)
class StoredResult:
    """The latest ``ResultEntry`` of a unit for one cycle and period."""

    id: int
    unit_id: int
    category: str
    score: Decimal
    deductions: Decimal
    total_weight: Decimal
    rank: int
    grade: str | None
    cycle_run_id: int | None


@dataclass(frozen=True)
class ResultSet:
    """A published result (a half-year evaluation or the annual assessment) of one category."""

    cycle: str
    period: str
    rows: Mapping[int, StoredResult]

    @property
    def closing_month(self) -> int:
        if self.cycle == HALF_YEAR:
            return 6 if self.period.endswith("H1") else 12
        return 12


@dataclass(frozen=True)
class NegativeEventRow:
    id: int
    period: str
    event: str


@dataclass(frozen=True)
class RecomputeSnapshot:
    """Everything recomputing one ruling needs: one unit and its category only.

    ``cells``: the unit's stored assessments of the year, by (indicator id, month key);
    ``raw_observations``: the platform's observation of each cell that has a
    non-rejected ruling (from the record versions, as the monthly analysis chose it);
    ``rulings``: every effective ruling on the unit's cells in the year;
    ``ledger``: each of the unit's indicators' ledger sum and latest entry;
    ``warnings``: the latest warning entry of each ruled cell;
    ``red_before``: whether the unit had a red cell in each month before the year;
    ``negative_events``: the unit's negative-list events, in booking order;
    ``settled``: the annual assessment has settled the year;
    ``results``: the published results of the year for the unit's category.
    """

    ruling: RulingRef
    rules: YearRules
    unit: UnitSnap
    indicators: Sequence[IndicatorSnap]
    cells: Mapping[tuple[int, str], CellState]
    raw_observations: Mapping[tuple[int, str], Observation]
    rulings: Sequence[RulingRef]
    ledger: Mapping[int, LedgerKeyState]
    warnings: Mapping[tuple[int, str], WarningState]
    red_before: Mapping[str, bool]
    negative_events: Sequence[NegativeEventRow]
    settled: bool
    results: Sequence[ResultSet]

    @property
    def year(self) -> int:
        return Period.parse(self.ruling.month).year


# ---------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class CellUpdate:
    indicator_id: int
    month: str
    before: CellState
    after: CellState


@dataclass(frozen=True)
class DeductionCorrection:
    """A correcting entry: ``amount = new_sum − previous_sum``; ``corrects_id`` the key's
    latest entry."""

    indicator_id: int
    period: str
    kind: str
    stage: str
    amount: Decimal
    previous_sum: Decimal
    new_sum: Decimal
    level: str
    completion: Decimal | None
    corrects_id: int | None


@dataclass(frozen=True)
class WarningCorrection:
    indicator_id: int
    month: str
    level: str
    completion: Decimal | None
    expected: Decimal | None
    actual: Decimal | None
    corrects_id: int | None


@dataclass(frozen=True)
class NegativeCorrection:
    month: str
    event: str


@dataclass(frozen=True)
class ResultCorrection:
    cycle: str
    period: str
    unit_id: int
    category: str
    score: Decimal
    deductions: Decimal
    total_weight: Decimal
    rank: int
    grade: str | None
    cycle_run_id: int | None
    before: StoredResult

    @property
    def rank_or_grade_changed(self) -> bool:
        return self.rank != self.before.rank or self.grade != self.before.grade


@dataclass(frozen=True)
class RecomputePlan:
    ruling_id: int
    unit_id: int
    category: str
    months: tuple[str, ...]
    cells: tuple[CellUpdate, ...]
    deductions: tuple[DeductionCorrection, ...]
    warnings: tuple[WarningCorrection, ...]
    negative_events: tuple[NegativeCorrection, ...]
    results: tuple[ResultCorrection, ...]

    @property
    def changes_nothing(self) -> bool:
        return not (
            self.cells or self.deductions or self.warnings or self.negative_events or self.results
        )

    def summary(self) -> dict[str, object]:
        return {
            "ruling_id": self.ruling_id,
            "unit_id": self.unit_id,
            "months": list(self.months),
            "cells": len(self.cells),
            "deductions": [str(d.amount) for d in self.deductions],
            "warnings": len(self.warnings),
            "negative_events": [f"{e.month}:{e.event}" for e in self.negative_events],
            "results": len(self.results),
            "rank_or_grade_changes": sum(1 for r in self.results if r.rank_or_grade_changed),
        }


# ------------------------------------------------------------------------------ rules


def latest_rulings(rulings: Sequence[RulingRef]) -> dict[tuple[int, str], RulingRef]:
    """Each cell's standing ruling: its latest effective one that is not a rejection.

    A rejection changes nothing, so an earlier ruling on the same cell still stands.
    """
    out: dict[tuple[int, str], RulingRef] = {}
    for r in sorted(rulings, key=lambda r: (r.effective_at, r.id)):
        if r.ruling.kind is RulingKind.REJECTED:
            continue
        out[(r.indicator_id, r.month)] = r
    return out


def ruled_assessment(
    ruling: Ruling,
    observation: Observation,
    indicator: IndicatorSnap,
    month_index: int,
    rules: YearRules,
) -> Assessment:
    """The month's assessment with the ruling applied, its pre-deduction the ruled amount."""
    before = assess(indicator.spec, indicator.weight, month_index, observation, rules)
    outcome = apply_ruling(
        ruling,
        before,
        spec=indicator.spec,
        weight=indicator.weight,
        month_index=month_index,
        rules=rules,
    )
    if outcome.after.pre_deduction == outcome.amount:
        return outcome.after
    return dataclasses.replace(outcome.after, pre_deduction=outcome.amount)


def final_with_ruling(weight: Decimal, december: CellState, ruling: Ruling | None) -> Decimal:
    """The final deduction on December's (ruled) state: ``round(w × (1 − min(c, 1)), 2)``,
    the full weight when missing, cut by a December waiver or reduction."""
    if december.level == Level.MISSING.value or december.completion is None:
        final = final_deduction(weight, MISSING)
    else:
        final = final_deduction(weight, december.completion)
    if ruling is not None and ruling.kind in (RulingKind.WAIVED, RulingKind.REDUCED):
        final = ruled_amount(ruling, final)
    return final


def _month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _deciding_month(
    cells: Mapping[tuple[int, str], CellState], indicator_id: int, year: int, last: int
) -> str | None:
    """The latest month ≤ ``last`` whose cell was assessed: the ledger holds its deduction."""
    for month in range(last, 0, -1):
        cell = cells.get((indicator_id, _month_key(year, month)))
        if cell is not None and cell.assessed:
            return _month_key(year, month)
    return None


def _sum_at(
    cells: Mapping[tuple[int, str], CellState], indicator_id: int, year: int, last: int
) -> Decimal:
    month = _deciding_month(cells, indicator_id, year, last)
    return ZERO if month is None else cells[(indicator_id, month)].pre_deduction


def _warning_correction(
    indicator_id: int, month: str, a: Assessment, previous: WarningState | None
) -> WarningCorrection | None:
    """The monthly analysis's warning rule, applied to a ruled month."""
    if a.level is Level.UNAVAILABLE:
        return None
    if (a.warning and (previous is None or previous.level != a.level.value)) or (
        not a.warning and previous is not None and previous.level != a.level.value
    ):
        return WarningCorrection(
            indicator_id,
            month,
            a.level.value,
            a.completion,
            a.expected,
            a.actual,
            None if previous is None else previous.id,
        )
    return None


# ------------------------------------------------------------------------------- plan


def plan_recompute(snapshot: RecomputeSnapshot) -> RecomputePlan:
    """Decide every correcting entry the ruling calls for (see the module docstring)."""
    s = snapshot
    year = s.year
    unit = s.unit
    by_id = {i.id: i for i in s.indicators}
    if s.ruling.indicator_id not in by_id:
        raise RecomputeError(
            f"indicator {s.ruling.indicator_id} does not apply to unit {unit.code} in {year}"
        )
    analysed = sorted({month for (_, month) in s.cells})
    if not analysed:
        raise RecomputeError(f"no month of {year} has been analysed for unit {unit.code}")
    last = Period.parse(analysed[-1]).index
    standing = latest_rulings(s.rulings)

    # 1. the ruled cells, assessed again with their standing ruling
    cells = dict(s.cells)
    assessments: dict[tuple[int, str], Assessment] = {}
    for key, ref in sorted(standing.items()):
        indicator = by_id.get(key[0])
        if indicator is None:
            continue
        if key not in s.cells:
            raise RecomputeError(
                f"{unit.code} {indicator.code} {key[1]}: the month has not been analysed yet"
            )
        observation = s.raw_observations.get(key, MISSING)
        a = ruled_assessment(
            ref.ruling, observation, indicator, Period.parse(key[1]).index, s.rules
        )
        assessments[key] = a
        cells[key] = CellState.of(a)
    if (s.ruling.indicator_id, s.ruling.month) not in s.cells:
        raise RecomputeError(
            f"{unit.code} {by_id[s.ruling.indicator_id].code} {s.ruling.month}: "
            "the month has not been analysed yet"
        )
    cell_updates = tuple(
        CellUpdate(key[0], key[1], s.cells[key], cells[key])
        for key in sorted(assessments)
        if cells[key] != s.cells[key]
    )

    # 2. warnings of the ruled months
    warnings = tuple(
        w
        for key, a in sorted(assessments.items())
        if (w := _warning_correction(key[0], key[1], a, s.warnings.get(key))) is not None
    )

    # 3. the deduction ledger of each ruled key
    ruled_keys = sorted({key[0] for key in standing if key[0] in by_id})
    december = _month_key(year, 12)
    targets: dict[int, Decimal] = {}
    deductions: list[DeductionCorrection] = []
    for indicator_id in ruled_keys:
        indicator = by_id[indicator_id]
        state = s.ledger.get(indicator_id, LedgerKeyState(ZERO, None))
        if s.settled:
            cell = cells.get((indicator_id, december))
            if cell is None:
                continue
            if cell.assessed:
                december_ref = standing.get((indicator_id, december))
                target = final_with_ruling(
                    indicator.weight, cell, None if december_ref is None else december_ref.ruling
                )
                deciding: str | None = december
            else:  # an unavailable December keeps the pre-deduction sum
                target = _sum_at(cells, indicator_id, year, 12)
                deciding = _deciding_month(cells, indicator_id, year, 12)
        else:
            target = _sum_at(cells, indicator_id, year, last)
            deciding = _deciding_month(cells, indicator_id, year, last)
        targets[indicator_id] = target
        change = plan_entry(state.total, target)
        if change is None:
            continue
        if s.settled:
            kind, stage = "settled", "final"
        elif target == ZERO:
            kind, stage = "released", "pre"
        elif state.latest_id is None:
            kind, stage = "new", "pre"
        else:
            kind, stage = "adjusted", "pre"
        cell = cells.get((indicator_id, deciding)) if deciding else None
        ruled_months = sorted(m for (i, m) in standing if i == indicator_id)
        period = s.ruling.month if indicator_id == s.ruling.indicator_id else ruled_months[-1]
        deductions.append(
            DeductionCorrection(
                indicator_id=indicator_id,
                period=period,
                kind=kind,
                stage=stage,
                amount=change.amount,
                previous_sum=change.previous_sum,
                new_sum=change.new_sum,
                level=cell.level if cell else cells[(indicator_id, period)].level,
                completion=cell.completion if cell else None,
                corrects_id=state.latest_id,
            )
        )

    # What follows derives from the cells and the ledger: when the rulings changed neither
    # (a rejection, or a second run), it is left as it stands.
    touched = bool(cell_updates or deductions)

    # 4. the negative list, month by month from the earliest ruled month
    negative = _negative_corrections(s, cells, standing, year, last) if touched else ()

    # 5. published results of the unit's category
    sums = {i: st.total for i, st in s.ledger.items()}
    sums.update(targets)
    results = _result_corrections(s, cells, sums, year) if touched else ()

    first = min(Period.parse(m).index for m in [s.ruling.month, *(m for (_, m) in standing)])
    return RecomputePlan(
        ruling_id=s.ruling.id,
        unit_id=unit.id,
        category=unit.category,
        months=tuple(_month_key(year, m) for m in range(first, last + 1)),
        cells=cell_updates,
        deductions=tuple(deductions),
        warnings=warnings,
        negative_events=negative,
        results=results,
    )


def _negative_corrections(
    s: RecomputeSnapshot,
    cells: Mapping[tuple[int, str], CellState],
    standing: Mapping[tuple[int, str], RulingRef],
    year: int,
    last: int,
) -> tuple[NegativeCorrection, ...]:
    flags: dict[str, bool] = dict(s.red_before)
    assessed_months: set[str] = set()
    by_month: dict[str, list[CellState]] = {}
    for (_, month), cell in cells.items():
        by_month.setdefault(month, []).append(cell)
    for month, month_cells in by_month.items():
        assessed = [c for c in month_cells if c.assessed]
        if assessed:
            assessed_months.add(month)
            flags[month] = any(c.is_red for c in assessed)
    months = [Period.parse(m).index for (_, m) in standing] + [Period.parse(s.ruling.month).index]
    start = min(months)
    events: list[tuple[str, str]] = [(e.period, e.event) for e in s.negative_events]

    def derived(month: str) -> bool:
        latest = None
        for period, event in events:  # booking order: the last one at or before wins
            if period <= month:
                latest = event
        return latest == "on"

    planned: list[NegativeCorrection] = []
    desired = derived(_month_key(year, start - 1)) if start > 1 else derived(f"{year - 1:04d}-12")
    for index in range(start, last + 1):
        month = _month_key(year, index)
        if month in assessed_months:
            history = negative_list_history({k: v for k, v in flags.items() if k <= month}, s.rules)
            desired = history[-1].on_list
        if derived(month) != desired:
            event = "on" if desired else "off"
            planned.append(NegativeCorrection(month, event))
            events.append((month, event))
    return tuple(planned)


def _result_corrections(
    s: RecomputeSnapshot,
    cells: Mapping[tuple[int, str], CellState],
    sums: Mapping[int, Decimal],
    year: int,
) -> tuple[ResultCorrection, ...]:
    unit = s.unit
    weight = sum((i.weight for i in s.indicators), ZERO)
    if weight <= ZERO:
        return ()
    out: list[ResultCorrection] = []
    for rs in s.results:
        if unit.id not in rs.rows:
            continue
        if rs.cycle == HALF_YEAR:
            d = sum((_sum_at(cells, i.id, year, rs.closing_month) for i in s.indicators), ZERO)
        else:
            d = sum((sums.get(i.id, ZERO) for i in s.indicators), ZERO)
        d = round_points(d)
        scores = {u: row.score for u, row in rs.rows.items()}
        scores[unit.id] = running_score(weight, d)
        ranks = rank_competition(scores)
        graded: dict[int, Grade] = grades(scores, s.rules) if rs.cycle == ANNUAL else {}
        for u, row in sorted(rs.rows.items()):
            new_d, new_w = (d, weight) if u == unit.id else (row.deductions, row.total_weight)
            grade = graded[u].value if u in graded else None
            if (scores[u], new_d, new_w, ranks[u], grade) == (
                row.score,
                row.deductions,
                row.total_weight,
                row.rank,
                row.grade,
            ):
                continue
            out.append(
                ResultCorrection(
                    cycle=rs.cycle,
                    period=rs.period,
                    unit_id=u,
                    category=row.category,
                    score=scores[u],
                    deductions=new_d,
                    total_weight=new_w,
                    rank=ranks[u],
                    grade=grade,
                    cycle_run_id=row.cycle_run_id,
                    before=row,
                )
            )
    return tuple(out)


# ------------------------------------------------------------- the monthly analysis


def plan_monthly_analysis_with_rulings(
    snapshot: MonthSnapshot, rulings: Mapping[tuple[int, int], Ruling]
) -> MonthlyPlan:
    """``plan_monthly_analysis`` with the month's standing rulings, by (unit, indicator).

    corrected: the right value replaces the observation (level, warning, negative list
    and deduction follow from it); waived / reduced: the cell's pre-deduction is the
    ruled amount and the ledger is booked to it (the level stands); rejected: nothing.
    """
    observations = dict(snapshot.observations)
    amounts: dict[tuple[int, int], Ruling] = {}
    for key, ruling in rulings.items():
        if ruling.kind is RulingKind.CORRECTED:
            assert ruling.corrected_value is not None
            observations[key] = ruling.corrected_value
        elif ruling.kind in (RulingKind.WAIVED, RulingKind.REDUCED):
            amounts[key] = ruling
    plan = plan_monthly_analysis(dataclasses.replace(snapshot, observations=observations))
    if not amounts:
        return plan
    results = []
    bookings = {(d.unit_id, d.indicator_id): d for d in plan.deductions}
    for r in plan.results:
        key = (r.unit_id, r.indicator_id)
        standing = amounts.get(key)
        a = r.assessment
        if standing is None or a.level is Level.UNAVAILABLE:
            results.append(r)
            continue
        a = dataclasses.replace(a, pre_deduction=ruled_amount(standing, a.pre_deduction))
        results.append(dataclasses.replace(r, assessment=a))
        bookings.pop(key, None)
        before = snapshot.ledger_sums.get(key, ZERO)
        if plan.books_ledger and (change := plan_entry(before, a.pre_deduction)) is not None:
            bookings[key] = DeductionBooking(
                r.unit_id, r.indicator_id, change, a.level, a.completion
            )
    return dataclasses.replace(plan, results=tuple(results), deductions=tuple(bookings.values()))


# ---------------------------------------------------------------------------- digests

_OUTCOME_VERBS = {
    RulingKind.REJECTED: "维持原结果",
    RulingKind.CORRECTED: "更正数值并重新核算",
    RulingKind.WAIVED: "免予扣分",
    RulingKind.REDUCED: "减轻扣分",
}


def _points(value: Decimal) -> str:
    return format(round_points(value), "f")


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def decision_reason(
    ruling: Ruling,
    reason: str,
    document_ref: str,
    month: str,
    after: CellState | None,
    unit_of_measure: str = "",
) -> str:
    """What the unit reads about one ruling (Chinese), from persistent facts only."""
    period = Period.parse(month)
    when = f"{period.year}年{period.index}月"
    text = f"复查意见：{reason.strip() or _OUTCOME_VERBS[ruling.kind]}"
    if document_ref:
        text += f"（依据：{document_ref}）"
    text += "。"
    if ruling.kind is RulingKind.REJECTED or after is None:
        return text
    label = Level(after.level).label
    if ruling.kind is RulingKind.CORRECTED:
        assert ruling.corrected_value is not None
        text += f"{when}该指标数值更正为{_number(ruling.corrected_value)}{unit_of_measure}，"
    elif ruling.kind is RulingKind.WAIVED:
        text += f"{when}该指标免予扣分，"
    else:
        assert ruling.share is not None
        text += f"{when}该指标扣分减轻{_number(ruling.share * 100)}%，"
    return text + f"复查后等级为{label}、预扣分{_points(after.pre_deduction)}分。"


def appeal_outcome_digest(
    unit: UnitSnap, month: str, decisions: Sequence[AppealDecision]
) -> UnitDigest:
    """The unit's appeal outcomes for one month (one message per unit and month)."""
    return UnitDigest(
        unit_code=unit.code,
        unit_name=unit.name,
        kind="appeal_outcome",
        period_key=month,
        items=tuple(decisions),
    )
