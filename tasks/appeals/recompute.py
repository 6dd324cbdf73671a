"""Recomputation after a ruling (``recompute_ruling``, task ``recompute_task``).

Under the category's lock (``tasks.locks``, held exclusively until commit: a monthly
batch holds the categories shared, so the two never interleave), in the one transaction
that reads the ledgers and books: gather one unit's cells, ledgers and rulings and its
category's published results (``load_recompute_snapshot``), plan with
``models.plans.recompute``, book the correcting entries, all pointing to the ruling
(``save_recompute``), and tell the unit (and any unit whose annual rank or grade
changed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session

from models.persistence.database import session_scope
from models.persistence.tables import (
    Appeal,
    DeductionEntry,
    MonthlyAssessment,
    NegativeListEntry,
    ResultEntry,
    WarningEntry,
    table_of,
)
from models.persistence.tables import Ruling as RulingRow
from models.plans.monthly import WarningState
from models.plans.recompute import (
    ANNUAL,
    HALF_YEAR,
    LedgerKeyState,
    NegativeEventRow,
    RecomputeError,
    RecomputePlan,
    RecomputeSnapshot,
    ResultSet,
    RulingRef,
    StoredResult,
    latest_rulings,
    plan_recompute,
)
from models.plans.result_versions import RankChange, ResultVersionPlan
from models.rules import Observation, Period, WorkCalendar
from tasks.appeals.notices import queue_appeal_digests
from tasks.appeals.reads import (
    APPEAL,
    DED,
    MA,
    NEG,
    RES,
    RULING,
    RUN,
    UNIT,
    WARN,
    aware,
    committee_documents,
    core_ruling,
    load_cells,
    load_unit_rulings,
    pts,
    raw_observation,
    unit_snap,
    year_months,
)
from tasks.bulk import DEDUCTION_COLUMNS, NEGATIVE_COLUMNS, WARNING_COLUMNS, bulk_insert
from tasks.locks import category_lock, serialize
from tasks.monthly import load_indicators
from tasks.results import queue_restatement_notice
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules

__all__ = [
    "RecomputeOutcome",
    "load_recompute_snapshot",
    "recompute_ruling",
    "recompute_task",
    "save_recompute",
]


def load_recompute_snapshot(
    session: Session, ruling_id: int, calendar: WorkCalendar
) -> RecomputeSnapshot:
    """One unit's year and its category's published results: all a ruling touches."""
    row = session.get(RulingRow, ruling_id)
    if row is None:
        raise LookupError(f"ruling {ruling_id} does not exist")
    if row.effective_at is None:
        raise RecomputeError(
            f"ruling {ruling_id} has not taken effect: it is waiting for the committee"
        )
    appeal = session.get(Appeal, row.appeal_id)
    assert appeal is not None
    month = Period.parse(appeal.period)
    year = month.year
    rules = load_year_rules(session, year)
    unit = unit_snap(session, appeal.unit_id)
    # Each month keeps the catalog it was assessed under (revisions effective by then).
    month_indicators = {
        m: [i for i in load_indicators(session, year, Period.parse(m))
            if unit.category in i.categories]
        for m in year_months(year)
    }  # fmt: skip
    newest = {i.id: i for m in sorted(month_indicators) for i in month_indicators[m]}
    indicators = sorted(newest.values(), key=lambda i: i.code)
    ref = RulingRef(
        ruling_id,
        appeal.id or 0,
        appeal.indicator_id,
        appeal.period,
        core_ruling(row.kind, row.corrected_value, row.share),
        aware(row.effective_at),
        row.reason,
        committee_documents(session, [ruling_id]).get(ruling_id, row.document_ref),
    )
    rulings = load_unit_rulings(session, unit.id, year)
    cells = load_cells(session, unit.id, year_months(year))
    standing = latest_rulings(rulings)
    raw: dict[tuple[int, str], Observation] = {}
    for key in standing:
        indicator = next((i for i in month_indicators[key[1]] if i.id == key[0]), None)
        if indicator is not None:
            raw[key] = raw_observation(
                session, unit, indicator, Period.parse(key[1]), calendar, rules
            )
    ledger = {
        i: LedgerKeyState(pts(total), last)
        for i, total, last in session.execute(
            select(DED.indicator_id, func.sum(DED.amount), func.max(DED.id))
            .where(DED.unit_id == unit.id, DED.year == year)
            .group_by(DED.indicator_id)
        )
    }
    ruled_months = sorted({m for (_, m) in standing} | {appeal.period})
    warnings: dict[tuple[int, str], WarningState] = {}
    for wid, iid, period, level in session.execute(
        select(WARN.id, WARN.indicator_id, WARN.period, WARN.level)
        .where(WARN.unit_id == unit.id, WARN.period.in_(ruled_months))
        .order_by(WARN.id)
    ):
        warnings[(iid, period)] = WarningState(wid, level)
    before = load_cells(session, unit.id, year_months(year - 1))
    red_before: dict[str, bool | None] = {}
    for (_, period), cell in before.items():
        if cell.assessed:
            red_before[period] = bool(red_before.get(period)) or cell.is_red
        else:  # a month with no assessed cell is passed over by the negative list
            red_before.setdefault(period, None)
    negative = [
        NegativeEventRow(i, p, e)
        for i, p, e in session.execute(
            select(NEG.id, NEG.period, NEG.event).where(NEG.unit_id == unit.id).order_by(NEG.id)
        )
    ]
    settled = (
        session.execute(
            select(RUN.status).where(RUN.cycle == ANNUAL, RUN.period == str(year))
        ).scalar_one_or_none()
        == "completed"
    )
    results: list[ResultSet] = []
    for cycle, period in (
        (HALF_YEAR, f"{year}-H1"),
        (HALF_YEAR, f"{year}-H2"),
        (ANNUAL, str(year)),
    ):
        latest = (
            select(func.max(RES.id))
            .where(RES.cycle == cycle, RES.period == period, RES.category == unit.category)
            .group_by(RES.unit_id)
        )
        rows = session.execute(
            select(
                RES.id,
                RES.unit_id,
                RES.category,
                RES.score,
                RES.deductions,
                RES.total_weight,
                RES.rank,
                RES.grade,
                RES.cycle_run_id,
            ).where(RES.id.in_(latest))
        )
        stored = {
            r[1]: StoredResult(r[0], r[1], r[2], pts(r[3]), pts(r[4]), pts(r[5]), r[6], r[7], r[8])
            for r in rows
        }
        if stored:
            results.append(ResultSet(cycle, period, stored))
    return RecomputeSnapshot(
        ruling=ref,
        rules=rules,
        unit=unit,
        indicators=indicators,
        cells=cells,
        raw_observations=raw,
        rulings=rulings,
        ledger=ledger,
        warnings=warnings,
        red_before=red_before,
        negative_events=negative,
        settled=settled,
        results=results,
        month_indicators=month_indicators,
    )


def save_recompute(session: Session, plan: RecomputePlan, now: datetime) -> None:
    """Book the plan: correcting entries pointing to the ruling; the cells' latest state."""
    ruling_id = plan.ruling_id
    year = int(plan.months[0][:4]) if plan.months else None
    for c in plan.cells:
        session.execute(
            update(table_of(MonthlyAssessment))
            .where(
                MA.unit_id == plan.unit_id, MA.indicator_id == c.indicator_id, MA.period == c.month
            )
            .values(
                level=c.after.level,
                expected=c.after.expected,
                actual=c.after.actual,
                completion=c.after.completion,
                pre_deduction=c.after.pre_deduction,
                computed_at=now,
            )
        )
    conn = session.connection()
    bulk_insert(
        conn,
        table_of(DeductionEntry),
        DEDUCTION_COLUMNS,
        (
            (
                year if year is not None else int(d.period[:4]),
                d.period,
                plan.unit_id,
                d.indicator_id,
                d.kind,
                d.stage,
                d.amount,
                d.level,
                d.completion,
                None,
                d.corrects_id,
                ruling_id,
                None,
                now,
                f"申诉复查裁定 {ruling_id}：扣分由 {d.previous_sum} 调整为 {d.new_sum}"[:500],
            )
            for d in plan.deductions
        ),
    )
    bulk_insert(
        conn,
        table_of(WarningEntry),
        WARNING_COLUMNS,
        (
            (
                w.month,
                plan.unit_id,
                w.indicator_id,
                w.level,
                w.completion,
                w.expected,
                w.actual,
                None,
                w.corrects_id,
                ruling_id,
                None,
                now,
            )
            for w in plan.warnings
        ),
    )
    bulk_insert(
        conn,
        table_of(NegativeListEntry),
        NEGATIVE_COLUMNS,
        (
            (e.month, plan.unit_id, e.event, None, ruling_id, None, now)
            for e in plan.negative_events
        ),
    )
    save_restated_results(session, plan, now)


def save_restated_results(session: Session, plan: RecomputePlan, now: datetime) -> None:
    """The plan's corrected results as the next version of each (cycle, period), caused by
    the ruling; the office is told of the ranks and grades that change."""
    by_period: dict[tuple[str, str], list[Any]] = {}
    for r in plan.results:
        by_period.setdefault((r.cycle, r.period), []).append(r)
    cause = f"ruling:{plan.ruling_id}"
    for (cycle, period), corrections in sorted(by_period.items()):
        top = session.execute(
            select(func.max(RES.version)).where(RES.cycle == cycle, RES.period == period)
        ).scalar_one_or_none()
        version = (top or 0) + 1
        bulk_insert(
            session.connection(),
            table_of(ResultEntry),
            (
                "cycle",
                "period",
                "unit_id",
                "category",
                "score",
                "deductions",
                "total_weight",
                "rank",
                "grade",
                "cycle_run_id",
                "ruling_id",
                "created_at",
                "version",
                "cause",
            ),
            (
                (
                    r.cycle,
                    r.period,
                    r.unit_id,
                    r.category,
                    r.score,
                    r.deductions,
                    r.total_weight,
                    r.rank,
                    r.grade,
                    r.cycle_run_id,
                    plan.ruling_id,
                    now,
                    version,
                    cause,
                )
                for r in corrections
            ),
        )
        changes = tuple(
            RankChange(r.unit_id, r.before.rank, r.rank, r.before.grade, r.grade,
                       r.before.score, r.score)
            for r in corrections
            if (r.before.rank, r.before.grade) != (r.rank, r.grade)
        )  # fmt: skip
        restated = ResultVersionPlan(version, cause, (), changes)
        queue_restatement_notice(session, cycle, period, restated, now)


@dataclass
class RecomputeOutcome:
    """What a recomputation booked and told (plain data for the flow)."""

    ruling_id: int
    unit_code: str
    indicator_code: str
    period: str
    summary: dict[str, Any]
    messages: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        s = self.summary
        return bool(
            s.get("cells")
            or s.get("deductions")
            or s.get("warnings")
            or s.get("negative_events")
            or s.get("results")
        )


def recompute_ruling(
    engine: Engine,
    ruling_id: int,
    now: datetime,
    calendar: WorkCalendar,
    *,
    hold: Callable[[], None] | None = None,
) -> RecomputeOutcome:
    """Recompute after a ruling, in one transaction under the category's lock.

    ``hold`` is called between reading and booking (tests use it to widen the window
    in which a concurrent recomputation would interleave without the lock).
    """
    with session_scope(engine) as session:
        category = session.execute(
            select(UNIT.category)
            .join(Appeal, APPEAL.unit_id == UNIT.id)
            .join(RulingRow, RULING.appeal_id == APPEAL.id)
            .where(RULING.id == ruling_id)
        ).scalar_one_or_none()
        if category is None:
            raise LookupError(f"ruling {ruling_id} does not exist")
        serialize(session, category_lock(category))
        snapshot = load_recompute_snapshot(session, ruling_id, calendar)
        plan = plan_recompute(snapshot)
        if hold is not None:
            hold()
        save_recompute(session, plan, now)
        session.flush()
        messages = queue_appeal_digests(session, snapshot, now, calendar)
        indicator = next(i for i in snapshot.indicators if i.id == snapshot.ruling.indicator_id)
        return RecomputeOutcome(
            ruling_id=ruling_id,
            unit_code=snapshot.unit.code,
            indicator_code=indicator.code,
            period=snapshot.ruling.month,
            summary=plan.summary(),
            messages=messages,
        )


@task(name="recompute-after-ruling", cache_policy=NO_CACHE)
def recompute_task(runtime: Runtime, ruling_id: int, now: datetime) -> RecomputeOutcome:
    """Lock the category, gather, plan, book and tell: one transaction."""
    return recompute_ruling(runtime.engine, ruling_id, now, runtime.calendar)
