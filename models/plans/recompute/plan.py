"""``plan_recompute``: every correcting entry a ruling calls for, from a
``RecomputeSnapshot`` (see ``models.plans.recompute`` for the rules it follows)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal

from models.plans.monthly import IndicatorSnap, WarningState
from models.plans.recompute.state import (
    ANNUAL,
    HALF_YEAR,
    ZERO,
    CellState,
    CellUpdate,
    DeductionCorrection,
    LedgerKeyState,
    NegativeCorrection,
    RecomputeError,
    RecomputePlan,
    RecomputeSnapshot,
    ResultCorrection,
    RulingRef,
    WarningCorrection,
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
    if s.ruling.indicator_id not in s.indicators_at(s.ruling.month):
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
        indicator = s.indicators_at(key[1]).get(key[0])  # the month's own catalog
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
        indicator = s.indicators_at(december).get(indicator_id, by_id[indicator_id])
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
    flags: dict[str, bool | None] = dict(s.red_before)
    assessed_months: set[str] = set()
    by_month: dict[str, list[CellState]] = {}
    for (_, month), cell in cells.items():
        by_month.setdefault(month, []).append(cell)
    for month, month_cells in by_month.items():
        assessed = [c for c in month_cells if c.assessed]
        if assessed:
            assessed_months.add(month)
            flags[month] = any(c.is_red for c in assessed)
        else:  # unavailable: passed over by the negative list
            flags[month] = None
    months = [Period.parse(m).index for (_, m) in standing] + [Period.parse(s.ruling.month).index]
    start = min(months)
    events: list[tuple[str, str]] = [(e.period, e.event) for e in s.negative_events]

    def derived(month: str) -> bool:
        latest = None
        # by valid month, then booking order: the last one at or before wins
        for period, event in sorted(events, key=lambda e: e[0]):
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
    out: list[ResultCorrection] = []
    for rs in s.results:
        if unit.id not in rs.rows:
            continue
        # An indicator without platform data up to the closing month is out of W and D.
        closing = s.indicators_at(_month_key(year, rs.closing_month)).values()
        scored = [i for i in closing if _deciding_month(cells, i.id, year, rs.closing_month)]
        weight = sum((i.weight for i in scored), ZERO)
        if weight <= ZERO:
            continue
        if rs.cycle == HALF_YEAR:
            d = sum((_sum_at(cells, i.id, year, rs.closing_month) for i in scored), ZERO)
        else:
            d = sum((sums.get(i.id, ZERO) for i in scored), ZERO)
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
