"""Prefect tasks of the higher cycles: gather results' inputs, book results and settlements.

Tasks with side effects use ``NO_CACHE``; they return plain data. The engine is
``tasks.runtime.database()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import insert, select
from sqlmodel import Session

from models.persistence.database import session_scope
from models.persistence.tables import (
    CycleRun,
    DeductionEntry,
    MonthlyAssessment,
    ResultEntry,
    columns_of,
)
from models.plans.monthly import IndicatorSnap, UnitSnap
from models.plans.results import DataGap, DecemberCell, Settlement, UnitResult, data_gaps
from models.rules import Level, YearRules
from tasks.monthly import (
    load_indicators,
    load_ledger_sums,
    load_negative_list,
    load_units,
)
from tasks.runtime import database
from tasks.year_rules import load_year_rules

MA = columns_of(MonthlyAssessment)
RUN = columns_of(CycleRun)


@dataclass(frozen=True)
class ResultInputs:
    """What scores need: units, the year's indicators and rules, the ledger's sums."""

    year: int
    rules: YearRules
    units: list[UnitSnap]
    indicators: list[IndicatorSnap]
    ledger_sums: dict[tuple[int, int], Decimal]
    december: dict[tuple[int, int], DecemberCell] = field(default_factory=dict)
    with_data: frozenset[tuple[int, int]] = frozenset()
    """(unit, indicator) pairs with platform data in some month of the year up to the
    period's last month (an indicator unavailable all period long is out of W and D)."""
    gaps: list[DataGap] = field(default_factory=list)
    """Units with indicators without platform data, for the office (``data_gaps``)."""


@dataclass(frozen=True)
class CycleRow:
    period: str
    status: str
    claimed_at: datetime


def load_data_pairs(
    session: Session, year: int, through: str | None = None
) -> frozenset[tuple[int, int]]:
    """(unit, indicator) pairs assessed with data (any level but unavailable) in a month
    of ``year`` up to ``through`` (every month of the year when None)."""
    last = through or f"{year}-12"
    months = [f"{year}-{m:02d}" for m in range(1, 13) if f"{year}-{m:02d}" <= last]
    rows = session.execute(
        select(MA.unit_id, MA.indicator_id)
        .where(MA.period.in_(months), MA.level != Level.UNAVAILABLE.value)
        .distinct()
    )
    return frozenset((u, i) for u, i in rows)


def load_result_inputs(
    session: Session, year: int, with_december: bool = False, through: str | None = None
) -> ResultInputs:
    december: dict[tuple[int, int], DecemberCell] = {}
    if with_december:
        rows = session.execute(
            select(MA.unit_id, MA.indicator_id, MA.level, MA.completion).where(
                MA.period == f"{year}-12"
            )
        )
        december = {
            (u, i): DecemberCell(level, None if c is None else Decimal(c))
            for u, i, level, c in rows
        }
    units, indicators = load_units(session), load_indicators(session, year)
    with_data = load_data_pairs(session, year, through)
    return ResultInputs(
        year=year,
        rules=load_year_rules(session, year),
        units=units,
        indicators=indicators,
        ledger_sums=load_ledger_sums(session, year),
        december=december,
        with_data=with_data,
        gaps=data_gaps(units, indicators, with_data),
    )


def load_month_levels(session: Session, months: list[str]) -> dict[tuple[int, str], list[str]]:
    rows = session.execute(
        select(MA.unit_id, MA.period, MA.level).where(MA.period.in_(months)).order_by(MA.id)
    )
    out: dict[tuple[int, str], list[str]] = {}
    for unit_id, period, level in rows:
        out.setdefault((unit_id, period), []).append(level)
    return out


def save_results(
    session: Session,
    cycle: str,
    period: str,
    results: list[UnitResult],
    run_id: int | None,
    now: datetime,
) -> None:
    if not results:
        return
    session.execute(
        insert(ResultEntry),
        [
            {
                "cycle": cycle,
                "period": period,
                "unit_id": r.unit_id,
                "category": r.category,
                "score": r.score,
                "deductions": r.deductions,
                "total_weight": r.total_weight,
                "rank": r.rank,
                "grade": None if r.grade is None else r.grade.value,
                "cycle_run_id": run_id,
                "created_at": now,
            }
            for r in results
        ],
    )


def save_settlements(
    session: Session, year: int, settlements: list[Settlement], run_id: int | None, now: datetime
) -> None:
    if not settlements:
        return
    session.execute(
        insert(DeductionEntry),
        [
            {
                "year": year,
                "period": f"{year}-12",
                "unit_id": s.unit_id,
                "indicator_id": s.indicator_id,
                "kind": "settled",
                "stage": "final",
                "amount": s.amount,
                "level": s.level,
                "completion": s.completion,
                "cycle_run_id": run_id,
                "created_at": now,
                "note": f"年度结算：最终扣分 {s.final}，原预扣分 {s.current}",
            }
            for s in settlements
        ],
    )


def load_cycle_rows(session: Session, cycle: str) -> dict[str, CycleRow]:
    rows = session.execute(select(RUN.period, RUN.status, RUN.claimed_at).where(RUN.cycle == cycle))
    return {p: CycleRow(p, s, c) for p, s, c in rows}


# ----------------------------------------------------------------------------- tasks


@task(name="load-result-inputs", cache_policy=NO_CACHE)
def load_result_inputs_task(
    year: int, with_december: bool = False, through: str | None = None
) -> ResultInputs:
    with session_scope(database()) as session:
        return load_result_inputs(session, year, with_december, through)


@task(name="load-quarter-levels", cache_policy=NO_CACHE)
def load_quarter_task(
    months: list[str],
) -> tuple[list[UnitSnap], dict[tuple[int, str], list[str]], frozenset[int]]:
    """The units, each (unit, month)'s cell levels and who is on the negative list now."""
    with session_scope(database()) as session:
        return load_units(session), load_month_levels(session, months), load_negative_list(session)


@task(name="book-results", cache_policy=NO_CACHE)
def save_results_task(
    cycle: str, period: str, results: list[UnitResult], run_id: int, now: datetime
) -> None:
    with session_scope(database()) as session:
        save_results(session, cycle, period, results, run_id, now)


@task(name="book-annual", cache_policy=NO_CACHE)
def save_annual_task(
    year: int,
    settlements: list[Settlement],
    results: list[UnitResult],
    run_id: int,
    now: datetime,
) -> None:
    """Settlements and final results in one transaction: both or neither."""
    with session_scope(database()) as session:
        save_settlements(session, year, settlements, run_id, now)
        save_results(session, "annual_assessment", str(year), results, run_id, now)


@task(name="load-cycle-runs", cache_policy=NO_CACHE)
def load_cycle_rows_task(cycle: str) -> dict[str, CycleRow]:
    with session_scope(database()) as session:
        return load_cycle_rows(session, cycle)
