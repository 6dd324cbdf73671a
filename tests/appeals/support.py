"""The appeal tests' yardstick: the year computed afresh with the rulings applied from the start.

``fresh_year`` replays the whole year in memory from the stored platform record
versions, month by month in the calendar's order, exactly as the cycle flows do
(the monthly plan, the half-year scores after June and December, the annual
settlement and grades), but with the rulings applied to their months from the
start. It shares nothing with the recomputation but the rules core and the monthly
plan, so a recomputation that books the right correcting entries must end where
this replay ends. Readers of the database's current state sit alongside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine

from flows.forms import RulingForm
from models.persistence.database import session_scope
from models.persistence.tables import Appeal
from models.plans.monthly import MonthSnapshot
from models.plans.recompute import plan_monthly_analysis_with_rulings
from models.plans.results import plan_results
from models.rules import (
    MISSING,
    SHANGHAI,
    Level,
    Period,
    Ruling,
    RulingKind,
    WorkCalendar,
    deadline_cutoff,
    final_deduction,
    ruled_amount,
)
from tasks.monthly import load_indicators, load_unavailable, load_units, load_versions
from tasks.year_rules import load_year_rules
from tests.fixtures.databases import rows

YEAR = 2026
CENT = Decimal("0.01")
RED = (Level.RED.value, Level.MISSING.value)
Key = tuple[int, int, str]
"""(unit id, indicator id, month key)"""


@dataclass
class Fresh:
    sums: dict[tuple[int, int], Decimal] = field(default_factory=dict)
    results: dict[tuple[str, str, int], tuple[Any, ...]] = field(default_factory=dict)
    cells: dict[Key, tuple[str, Decimal]] = field(default_factory=dict)
    warnings: dict[Key, str] = field(default_factory=dict)
    membership: dict[tuple[int, str], bool] = field(default_factory=dict)


def _result_rows(
    cycle: str, period: str, results: Any
) -> dict[tuple[str, str, int], tuple[Any, ...]]:
    return {
        (cycle, period, r.unit_id): (
            r.score,
            r.deductions,
            r.total_weight,
            r.rank,
            None if r.grade is None else r.grade.value,
        )
        for r in results
    }


def fresh_year(engine: Engine, rulings: Mapping[Key, Ruling] | None = None) -> Fresh:
    """The year as the flows would have computed it with ``rulings`` applied from the start."""
    rulings = rulings or {}
    calendar = WorkCalendar()
    out = Fresh()
    with session_scope(engine) as session:
        rules = load_year_rules(session, YEAR)
        units = load_units(session)
        indicators = load_indicators(session, YEAR)
        on: set[int] = set()
        red: dict[int, dict[str, bool | None]] = {}
        previous: Period | None = None
        december: dict[tuple[int, int], Any] = {}
        for month in Period.whole_year(YEAR).months():
            down, unavailable = load_unavailable(session, month)
            from models.plans.monthly import effective_observations

            observations = effective_observations(
                units,
                indicators,
                load_versions(session, month),
                deadline_cutoff(month, calendar, rules),
                unavailable,
                platform_down=down,
            )
            snapshot = MonthSnapshot(
                month=month,
                rules=rules,
                units=units,
                indicators=indicators,
                observations=observations,
                ledger_sums=dict(out.sums),
                warnings={},
                red_history={u: dict(flags) for u, flags in red.items()},
                on_negative_list=frozenset(on),
                latest_booked_month=previous,
                deadline=calendar.upload_deadline(month, rules),
            )
            month_rulings = {(u, i): r for (u, i, m), r in rulings.items() if m == month.key}
            plan = plan_monthly_analysis_with_rulings(snapshot, month_rulings)
            for d in plan.deductions:
                key = (d.unit_id, d.indicator_id)
                out.sums[key] = out.sums.get(key, Decimal(0)) + d.change.amount
            for r in plan.results:
                a = r.assessment
                out.cells[(r.unit_id, r.indicator_id, month.key)] = (a.level.value, a.pre_deduction)
                if month.index == 12:
                    december[(r.unit_id, r.indicator_id)] = a
                flags = red.setdefault(r.unit_id, {})
                if a.level is not Level.UNAVAILABLE:
                    flags[month.key] = bool(flags.get(month.key)) or a.is_red
                else:  # a month with no assessed cell is passed over by the negative list
                    flags.setdefault(month.key, None)
            for w in plan.warnings:
                out.warnings[(w.unit_id, w.indicator_id, month.key)] = w.level.value
            for e in plan.negative_events:
                (on.add if e.event == "on" else on.discard)(e.unit_id)
            for u in units:
                out.membership[(u.id, month.key)] = u.id in on
            previous = month
            if month.index in (6, 12):
                half = f"{YEAR}-H{month.index // 6}"
                out.results.update(
                    _result_rows(
                        "half_year_evaluation",
                        half,
                        plan_results(units, indicators, out.sums, rules, with_data=_with_data(out)),
                    )
                )
        weights = {i.id: i.weight for i in indicators}
        for (u, i), a in december.items():
            if a.level is Level.UNAVAILABLE:
                continue
            if a.level is Level.MISSING or a.completion is None:
                final = final_deduction(weights[i], MISSING)
            else:
                # the annual flow settles on the completion as stored (6 decimals)
                stored = a.completion.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
                final = final_deduction(weights[i], stored)
            ruling = rulings.get((u, i, f"{YEAR}-12"))
            if ruling is not None and ruling.kind in (RulingKind.WAIVED, RulingKind.REDUCED):
                final = ruled_amount(ruling, final)
            out.sums[(u, i)] = final
        out.results.update(
            _result_rows(
                "annual_assessment",
                str(YEAR),
                plan_results(
                    units, indicators, out.sums, rules, with_grades=True, with_data=_with_data(out)
                ),
            )
        )
    out.sums = {k: v.quantize(CENT) for k, v in out.sums.items() if v != 0}
    return out


def _with_data(out: Fresh) -> frozenset[tuple[int, int]]:
    """(unit, indicator) pairs with platform data in a month computed so far (无平台数据
    pairs are out of W and D, rulebook section 6)."""
    unavailable = Level.UNAVAILABLE.value
    return frozenset((u, i) for (u, i, _m), (level, _) in out.cells.items() if level != unavailable)


# ------------------------------------------------------------------ the database's state


def ledger_sums(engine: Engine) -> dict[tuple[int, int], Decimal]:
    found = rows(
        engine,
        "SELECT unit_id, indicator_id, SUM(amount) FROM deduction_entry "
        "WHERE year = :y GROUP BY unit_id, indicator_id",
        y=YEAR,
    )
    sums = {(u, i): Decimal(str(s)).quantize(CENT) for u, i, s in found}
    return {k: v for k, v in sums.items() if v != 0}


def latest_results(engine: Engine) -> dict[tuple[str, str, int], tuple[Any, ...]]:
    found = rows(
        engine,
        "SELECT cycle, period, unit_id, score, deductions, total_weight, rank, grade "
        "FROM result_entry ORDER BY id",
    )
    out: dict[tuple[str, str, int], tuple[Any, ...]] = {}
    for cycle, period, unit, score, d, w, rank, grade in found:
        out[(cycle, period, unit)] = (
            Decimal(str(score)).quantize(CENT),
            Decimal(str(d)).quantize(CENT),
            Decimal(str(w)).quantize(CENT),
            rank,
            grade,
        )
    return out


def stored_cells(engine: Engine) -> dict[Key, tuple[str, Decimal]]:
    found = rows(
        engine,
        "SELECT unit_id, indicator_id, period, level, pre_deduction FROM monthly_assessment",
    )
    return {(u, i, p): (lv, Decimal(str(pre)).quantize(CENT)) for u, i, p, lv, pre in found}


def warning_states(engine: Engine) -> dict[Key, str]:
    """The latest warning level of each (unit, indicator, month) still orange or red."""
    latest: dict[Key, str] = {}
    for u, i, p, level in rows(
        engine, "SELECT unit_id, indicator_id, period, level FROM warning_entry ORDER BY id"
    ):
        latest[(u, i, p)] = level
    return {k: v for k, v in latest.items() if v in ("orange", "red", "missing")}


def fresh_warning_states(fresh: Fresh) -> dict[Key, str]:
    return {k: v for k, v in fresh.warnings.items() if v in ("orange", "red", "missing")}


def membership(engine: Engine, unit_id: int) -> dict[str, bool]:
    """The unit's negative-list membership after each month: the latest event of a month
    at or before it (by valid month, then booking order)."""
    events = rows(
        engine,
        "SELECT period, event FROM negative_list_entry WHERE unit_id = :u ORDER BY period, id",
        u=unit_id,
    )
    out = {}
    for month in Period.whole_year(YEAR).months():
        latest = None
        for period, event in events:
            if period <= month.key:
                latest = event
        out[month.key] = latest == "on"
    return out


def assert_matches_fresh(
    engine: Engine, rulings: Mapping[Key, Ruling], unit_ids: list[int]
) -> Fresh:
    """Ledger sums, cells, warnings, negative list and every published result equal the
    fresh computation with ``rulings`` applied from the start."""
    fresh = fresh_year(engine, rulings)
    assert ledger_sums(engine) == fresh.sums
    assert stored_cells(engine) == fresh.cells
    assert warning_states(engine) == fresh_warning_states(fresh)
    assert latest_results(engine) == fresh.results
    for unit_id in unit_ids:
        assert membership(engine, unit_id) == {
            m.key: fresh.membership[(unit_id, m.key)] for m in Period.whole_year(YEAR).months()
        }
    return fresh


# ------------------------------------------------------------------------------ appeals


def pick_cell(
    engine: Engine, month: str, *, skip_units: tuple[int, ...] = ()
) -> tuple[int, int, Decimal, Decimal]:
    """A red cell of ``month`` with a value (unit, indicator, expected, pre-deduction): the
    one with the largest pre-deduction, so that a ruling on it moves scores the most."""
    found = rows(
        engine,
        "SELECT unit_id, indicator_id, expected, pre_deduction FROM monthly_assessment "
        "WHERE period = :p AND level = 'red' AND actual IS NOT NULL "
        "ORDER BY pre_deduction DESC, unit_id, indicator_id",
        p=month,
    )
    for u, i, expected, pre in found:
        if u not in skip_units:
            return u, i, Decimal(str(expected)), Decimal(str(pre))
    raise AssertionError(f"no red cell in {month}")


def pick_rank_moving_cell(engine: Engine) -> tuple[int, int, Decimal]:
    """A red December cell whose waiver lifts its unit past another unit of its category
    in the annual ranking (unit, indicator, the cell's final deduction)."""
    annual = {
        u: (cat, Decimal(str(score)), Decimal(str(d)), Decimal(str(w)))
        for u, cat, score, d, w in rows(
            engine,
            "SELECT unit_id, category, score, deductions, total_weight FROM result_entry "
            "WHERE cycle = 'annual_assessment' ORDER BY id",
        )
    }
    for u, i, _, pre in [
        (u, i, e, p)
        for u, i, e, p in rows(
            engine,
            "SELECT unit_id, indicator_id, expected, pre_deduction FROM monthly_assessment "
            "WHERE period = '2026-12' AND level = 'red' ORDER BY pre_deduction DESC, unit_id",
        )
    ]:
        category, score, d, w = annual[u]
        lifted = (Decimal(100) * (w - (d - Decimal(str(pre)))) / w).quantize(CENT)
        if any(c == category and score < other < lifted for c, other, _, _ in annual.values()):
            return u, i, Decimal(str(pre))
    raise AssertionError("no December waiver would change a rank")


def file_appeal(
    engine: Engine,
    unit_id: int,
    indicator_id: int,
    month: str,
    kind: str = "data_error",
    claimed: Decimal | None = None,
) -> int:
    """An appeal registered by the intake (filed on the first working day after the analysis)."""
    calendar = WorkCalendar()
    analysed = calendar.monthly_analysis_at(month)
    filed = analysed + timedelta(hours=2)
    with session_scope(engine) as session:
        appeal = Appeal(
            platform_id=f"t-{unit_id}-{indicator_id}-{month}-{kind}",
            unit_id=unit_id,
            indicator_id=indicator_id,
            period=month,
            kind=kind,
            claimed_value=claimed,
            reason="测试申诉：平台数据有误" if kind == "data_error" else "受自然灾害影响",
            filed_at=filed,
            received_at=filed + timedelta(minutes=5),
            status="registered",
        )
        session.add(appeal)
        session.flush()
        assert appeal.id is not None
        return appeal.id


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


def ruling_form(appeal_id: int | str, **fields: Any) -> RulingForm:
    """The form the office fills for ``appeal_id`` (internal or platform id)."""
    return RulingForm(appeal=str(appeal_id), **fields)
