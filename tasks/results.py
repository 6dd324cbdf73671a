"""Prefect tasks of the higher cycles: gather results' inputs, book results and settlements.

Tasks with side effects use ``NO_CACHE``; they return plain data. The engine is
the runtime's engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import insert, select
from sqlmodel import Session

from models.messages import message_key
from models.persistence.database import session_scope
from models.persistence.tables import (
    CycleRun,
    DeductionEntry,
    MonthlyAssessment,
    ResultEntry,
    Unit,
    columns_of,
    table_of,
)
from models.plans.monthly import IndicatorSnap, UnitSnap
from models.plans.result_versions import (
    KIND_RESULT_RESTATED,
    ResultVersionPlan,
    StoredVersionRow,
    plan_result_version,
    restatement_notice,
    version_history_lines,
)
from models.plans.results import DataGap, DecemberCell, Settlement, UnitResult, data_gaps
from models.rules import Level, Period, YearRules
from tasks.delivery.queueing import add_pending_message
from tasks.monthly import (
    load_indicators,
    load_ledger_sums,
    load_negative_list,
    load_units,
)
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules

MA = columns_of(MonthlyAssessment)
RUN = columns_of(CycleRun)
RES = columns_of(ResultEntry)
CENT = Decimal("0.01")
UNIT = columns_of(Unit)


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
    """The year's inputs to scores as of month ``through`` (the period's last month).

    A half-year (without ``with_december``): each key's deduction as of ``through``
    (``load_deductions_as_of``), the same before and after later months, rulings on
    later months and the annual settlement. The annual: the ledger's sums of entries of
    valid month ≤ ``through`` (settlement included). ``through`` None: every entry."""
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
    as_of = Period.parse(through or f"{year}-12")  # the catalog as of the period's last month
    units, indicators = load_units(session, None, as_of), load_indicators(session, year, as_of)
    with_data = load_data_pairs(session, year, through)
    return ResultInputs(
        year=year,
        rules=load_year_rules(session, year),
        units=units,
        indicators=indicators,
        ledger_sums=(
            load_ledger_sums(session, year, through=through)
            if with_december or through is None
            else load_deductions_as_of(session, year, through)
        ),
        december=december,
        with_data=with_data,
        gaps=data_gaps(units, indicators, with_data),
    )


def load_deductions_as_of(
    session: Session, year: int, through: str
) -> dict[tuple[int, int], Decimal]:
    """``models.plans.as_of.deductions_as_of`` done by the database: each (unit, indicator)'s
    pre-deduction of its latest assessed month of ``year`` up to ``through``."""
    mark = "?" if session.connection().dialect.name == "sqlite" else "%s"
    sql = (
        "SELECT unit_id, indicator_id, pre_deduction FROM ("
        " SELECT unit_id, indicator_id, pre_deduction, ROW_NUMBER() OVER ("
        "  PARTITION BY unit_id, indicator_id ORDER BY period DESC) AS pick"
        f" FROM {table_of(MonthlyAssessment).name}"
        f" WHERE period >= {mark} AND period <= {mark} AND level <> {mark}"
        ") latest WHERE pick = 1"
    )
    params = (f"{year:04d}-01", through, Level.UNAVAILABLE.value)
    rows = session.connection().exec_driver_sql(sql, params).all()
    return {(u, i): Decimal(str(d)).quantize(CENT) for u, i, d in rows}


def load_month_levels(session: Session, months: list[str]) -> dict[tuple[int, str], list[str]]:
    rows = session.execute(
        select(MA.unit_id, MA.period, MA.level).where(MA.period.in_(months)).order_by(MA.id)
    )
    out: dict[tuple[int, str], list[str]] = {}
    for unit_id, period, level in rows:
        out.setdefault((unit_id, period), []).append(level)
    return out


def load_result_versions(session: Session, cycle: str, period: str) -> list[StoredVersionRow]:
    """Every stored result row of a (cycle, period), every version."""
    rows = session.execute(
        select(
            RES.unit_id,
            RES.category,
            RES.score,
            RES.deductions,
            RES.total_weight,
            RES.rank,
            RES.grade,
            RES.version,
            RES.cause,
            RES.created_at,
        )
        .where(RES.cycle == cycle, RES.period == period)
        .order_by(RES.id)
    )
    return [
        StoredVersionRow(u, c, Decimal(s), Decimal(d), Decimal(w), r, g, v, cause, at)
        for u, c, s, d, w, r, g, v, cause, at in rows
    ]


def save_results(
    session: Session,
    cycle: str,
    period: str,
    results: list[UnitResult],
    run_id: int | None,
    now: datetime,
    cause: str | None = None,
) -> ResultVersionPlan | None:
    """Book the period's results as its next version when they differ from the current
    one (nothing otherwise); a restatement that moves a rank or grade queues one office
    message. ``cause`` defaults to ``run:<id>`` (``rerun:<id>`` when a version exists)."""
    if not results:
        return None
    stored = load_result_versions(session, cycle, period)
    if cause is None:
        cause = f"{'rerun' if stored else 'run'}:{run_id}"
    plan = plan_result_version(stored, results, cause)
    if plan is None:
        return None
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
                "version": plan.version,
                "cause": cause[:60],
            }
            for r in plan.rows
        ],
    )
    queue_restatement_notice(session, cycle, period, plan, now, run_id)
    return plan


def queue_restatement_notice(
    session: Session,
    cycle: str,
    period: str,
    plan: ResultVersionPlan,
    now: datetime,
    run_id: int | None = None,
) -> None:
    """Queue the office's one message about the ranks or grades ``plan`` changes."""
    ids = {c.unit_id for c in plan.changes}
    if not ids:
        return
    units = {
        i: (code, name)
        for i, code, name in session.execute(
            select(UNIT.id, UNIT.code, UNIT.name).where(UNIT.id.in_(ids))
        )
    }
    notice = restatement_notice(cycle, period, plan, units, now)
    if notice is None:
        return
    key = message_key("office", KIND_RESULT_RESTATED, period, notice.content_hash)
    add_pending_message(
        session, key=key, audience="office", kind=KIND_RESULT_RESTATED, period=period,
        body=notice, now=now, run_id=run_id,
    )  # fmt: skip
    session.flush()


def save_settlements(
    session: Session,
    year: int,
    settlements: list[Settlement],
    run_id: int | None,
    now: datetime,
    revision_id: int | None = None,
) -> None:
    """Book the annual settlement's entries (``revision_id``: a recomputation's after that
    catalog revision, which names it)."""
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
                "revision_id": revision_id,
                "created_at": now,
                "note": f"年度结算：最终扣分 {s.final}，原预扣分 {s.current}"
                + ("" if revision_id is None else f"（目录修订 #{revision_id}）"),
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
    runtime: Runtime, year: int, with_december: bool = False, through: str | None = None
) -> ResultInputs:
    """The inputs as of month ``through`` (the period's last month)."""
    with session_scope(runtime.engine) as session:
        return load_result_inputs(session, year, with_december, through)


@task(name="load-quarter-levels", cache_policy=NO_CACHE)
def load_quarter_task(
    runtime: Runtime,
    months: list[str],
) -> tuple[list[UnitSnap], dict[tuple[int, str], list[str]], frozenset[int]]:
    """The units, each (unit, month)'s cell levels and who was on the negative list at
    the end of the quarter's last month (as of the quarter, whenever it runs)."""
    with session_scope(runtime.engine) as session:
        on_list = load_negative_list(session, through=max(months))
        return load_units(session), load_month_levels(session, months), on_list


@task(name="book-results", cache_policy=NO_CACHE)
def save_results_task(
    runtime: Runtime, cycle: str, period: str, results: list[UnitResult], run_id: int, now: datetime
) -> list[str]:
    """Book the results as the period's next version if they changed; the versions'
    history (Markdown lines, current first) for the artifact."""
    with session_scope(runtime.engine) as session:
        save_results(session, cycle, period, results, run_id, now)
        return version_history_lines(load_result_versions(session, cycle, period))


@task(name="book-annual", cache_policy=NO_CACHE)
def save_annual_task(
    runtime: Runtime,
    year: int,
    settlements: list[Settlement],
    results: list[UnitResult],
    run_id: int,
    now: datetime,
) -> list[str]:
    """Settlements and final results in one transaction: both or neither. Returns the
    results' version history (Markdown lines) for the artifact."""
    with session_scope(runtime.engine) as session:
        save_settlements(session, year, settlements, run_id, now)
        save_results(session, "annual_assessment", str(year), results, run_id, now)
        return version_history_lines(load_result_versions(session, "annual_assessment", str(year)))


@task(name="load-cycle-runs", cache_policy=NO_CACHE)
def load_cycle_rows_task(runtime: Runtime, cycle: str) -> dict[str, CycleRow]:
    with session_scope(runtime.engine) as session:
        return load_cycle_rows(session, cycle)
