"""Recomputation after a catalog revision: the months from its effective month on, then
the period results they feed (issue 14).

Each month already analysed from the revision's effective month on is planned again,
in month order, under the catalog as of that month with the month's standing rulings
kept (``models.plans.catalog_recompute.plan_month_under_revision``); only the difference
is booked, as correcting entries naming the revision (``revision_id``). One batch of
units of one month is one transaction, holding every category's lock exclusively
(a monthly batch holds them shared, a recompute after an appeal one of them): nothing
interleaves with it. Then the period results already stored that those months feed
are restated (``restate_results``): the half-years whose last month is on or after the
effective month, and the annual assessment when it has run (its settlement recomputed
first); each as its next version with cause ``catalog:<id>``, a rank or grade change
telling the office (``result_restated``). No monthly digest is sent again: the units
were told of the revision once (``catalog_changed``).

Every step books only differences: a second run books and queues nothing, and a run
that stopped half-way is completed by the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, select
from sqlmodel import Session

from models.catalog.revision import RevisionRow
from models.catalog.vocabulary import CATEGORY_LABELS
from models.persistence.database import session_scope
from models.persistence.tables import AssessmentYear, MonthlyAssessment, Unit, columns_of
from models.plans.catalog_recompute import (
    MonthBooked,
    RecomputeSummary,
    RestatedResult,
    merge_months,
    plan_month_under_revision,
    unit_total_changes,
)
from models.plans.results import plan_annual, plan_results
from models.rules import Cycle, CycleStatus, Period, WorkCalendar
from tasks.appeals.reads import load_standing_rulings
from tasks.catalog import load_revisions
from tasks.catalog_revisions import load_analysed_months
from tasks.locks import category_lock, serialize_all
from tasks.monthly import UnitRange, load_month_snapshot, save_month_plan
from tasks.results import (
    RUN,
    load_result_inputs,
    load_result_versions,
    save_results,
    save_settlements,
)
from tasks.runtime import Runtime

__all__ = [
    "HALF_YEAR",
    "RecomputeStart",
    "finish_catalog_recompute_task",
    "load_revision",
    "load_unit_pre_deductions",
    "recompute_month",
    "recompute_month_task",
    "recompute_revision",
    "restate_results",
    "restate_results_task",
    "start_catalog_recompute_task",
]

MA = columns_of(MonthlyAssessment)
UNIT = columns_of(Unit)
HALF_YEAR = Cycle.HALF_YEAR_EVALUATION.value
ANNUAL = Cycle.ANNUAL_ASSESSMENT.value


def load_revision(session: Session, revision_id: int) -> RevisionRow:
    """The stored revision ``revision_id`` (LookupError when there is none)."""
    for revision in load_revisions(session):
        if revision.id == revision_id:
            return revision
    raise LookupError(f"catalog revision {revision_id} does not exist")


def load_unit_pre_deductions(session: Session, year: int) -> dict[int, Decimal]:
    """Each unit's year-to-date pre-deduction: the sum of its cells' pre-deductions in the
    latest month of ``year`` analysed (what its monthly digest shows)."""
    latest = session.execute(
        select(func.max(MA.period)).where(MA.period.between(f"{year}-01", f"{year}-12"))
    ).scalar_one_or_none()
    if latest is None:
        return {}
    rows = session.execute(
        select(MA.unit_id, func.sum(MA.pre_deduction))
        .where(MA.period == latest)
        .group_by(MA.unit_id)
    )
    return {u: Decimal(str(s or 0)).quantize(Decimal("0.01")) for u, s in rows}


def _hold_categories(session: Session) -> None:
    serialize_all(session, [category_lock(c) for c in CATEGORY_LABELS])


def recompute_month(
    session: Session,
    revision_id: int,
    month: Period,
    now: datetime,
    calendar: WorkCalendar,
    batch: UnitRange = None,
) -> MonthBooked:
    """Plan ``month`` (of one batch of units) again under the catalog as of the month and
    book the difference as correcting entries naming the revision; return the counts."""
    snapshot = load_month_snapshot(session, month, calendar, batch)
    plan = plan_month_under_revision(snapshot, load_standing_rulings(session, month, batch))
    save_month_plan(session, plan, None, now, batch, revision_id=revision_id)
    return MonthBooked(
        month.key, len(plan.deductions), len(plan.warnings), len(plan.negative_events)
    )


def _annual_run_completed(session: Session, year: int) -> bool:
    status = session.execute(
        select(RUN.status).where(RUN.cycle == ANNUAL, RUN.period == str(year))
    ).scalar_one_or_none()
    return status == CycleStatus.COMPLETED


def restate_results(
    session: Session, revision: RevisionRow, now: datetime
) -> tuple[int, list[RestatedResult]]:
    """Restate the stored period results the recomputed months feed, as each period's run
    computes them; return the settlement entries booked and the periods restated (a
    period whose results do not change books nothing)."""
    year, cause = revision.year, f"catalog:{revision.id}"
    restated: list[RestatedResult] = []
    for half in (Period.half(year, 1), Period.half(year, 2)):
        last = half.months()[-1].key
        if last < revision.effective_month or not load_result_versions(
            session, HALF_YEAR, half.key
        ):
            continue
        inputs = load_result_inputs(session, year, through=last)
        results = plan_results(inputs.units, inputs.indicators, inputs.ledger_sums,
                               inputs.rules, with_data=inputs.with_data)  # fmt: skip
        plan = save_results(session, HALF_YEAR, half.key, results, None, now, cause=cause)
        if plan is not None:
            restated.append(RestatedResult(HALF_YEAR, half.key, plan.version, len(plan.rows)))
    settlements = 0
    sealed = session.get(AssessmentYear, year)
    if _annual_run_completed(session, year) and (sealed is None or sealed.published_at is None):
        inputs = load_result_inputs(session, year, with_december=True, through=f"{year}-12")
        annual = plan_annual(
            inputs.units,
            inputs.indicators,
            inputs.december,
            inputs.ledger_sums,
            inputs.rules,
            with_data=inputs.with_data,
        )
        save_settlements(session, year, annual.settlements, None, now, revision_id=revision.id)
        settlements = len(annual.settlements)
        plan = save_results(session, ANNUAL, str(year), annual.results, None, now, cause=cause)
        if plan is not None:
            restated.append(RestatedResult(ANNUAL, str(year), plan.version, len(plan.rows)))
    return settlements, restated


def _unit_names(session: Session) -> dict[int, tuple[str, str]]:
    return {i: (c, n) for i, c, n in session.execute(select(UNIT.id, UNIT.code, UNIT.name))}


def recompute_revision(
    session: Session, revision_id: int, now: datetime, calendar: WorkCalendar
) -> RecomputeSummary:
    """The whole recomputation in the caller's transaction (every unit at once): what a
    dry run computes and rolls back, and what a small database may do in one go."""
    _hold_categories(session)
    revision = load_revision(session, revision_id)
    before = load_unit_pre_deductions(session, revision.year)
    months = load_analysed_months(session, revision.year, revision.effective_month)
    booked = [recompute_month(session, revision_id, Period.parse(m), now, calendar) for m in months]
    session.flush()
    settlements, restated = restate_results(session, revision, now)
    after = load_unit_pre_deductions(session, revision.year)
    return RecomputeSummary(
        revision_id, revision.document_ref, revision.effective_month, merge_months(booked),
        settlements, unit_total_changes(before, after, _unit_names(session)), restated,
    )  # fmt: skip


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class RecomputeStart:
    """What the flow starts from: the revision, its months to recompute, the units'
    year-to-date pre-deductions before."""

    revision_id: int
    year: int
    document_ref: str
    effective_month: str
    months: list[str]
    before: dict[int, Decimal]


@task(name="start-catalog-recompute", cache_policy=NO_CACHE)
def start_catalog_recompute_task(runtime: Runtime, revision_id: int) -> RecomputeStart:
    """The revision and the months of its year analysed from its effective month on."""
    with session_scope(runtime.engine) as session:
        revision = load_revision(session, revision_id)
        return RecomputeStart(
            revision_id,
            revision.year,
            revision.document_ref,
            revision.effective_month,
            load_analysed_months(session, revision.year, revision.effective_month),
            load_unit_pre_deductions(session, revision.year),
        )


@task(name="recompute-month-batch", cache_policy=NO_CACHE)
def recompute_month_task(
    runtime: Runtime, revision_id: int, period: str, batch: tuple[int, int], now: datetime
) -> MonthBooked:
    """One batch of units of one month, in one transaction under every category's lock."""
    with session_scope(runtime.engine) as session:
        _hold_categories(session)
        return recompute_month(
            session, revision_id, Period.parse(period), now, runtime.calendar, batch
        )


@task(name="restate-results-after-revision", cache_policy=NO_CACHE)
def restate_results_task(
    runtime: Runtime, revision_id: int, now: datetime
) -> tuple[int, list[RestatedResult]]:
    """The period results the months feed, restated in one transaction."""
    with session_scope(runtime.engine) as session:
        _hold_categories(session)
        return restate_results(session, load_revision(session, revision_id), now)


@task(name="finish-catalog-recompute", cache_policy=NO_CACHE)
def finish_catalog_recompute_task(
    runtime: Runtime,
    start: RecomputeStart,
    booked: list[MonthBooked],
    settlements: int,
    restated: list[RestatedResult],
) -> RecomputeSummary:
    """The summary: the counts, and the units whose year-to-date pre-deduction moved."""
    with session_scope(runtime.engine) as session:
        after = load_unit_pre_deductions(session, start.year)
        names = _unit_names(session)
    return RecomputeSummary(
        start.revision_id, start.document_ref, start.effective_month, merge_months(booked),
        settlements, unit_total_changes(start.before, after, names), restated,
    )  # fmt: skip
