"""Handing a cycle's results to the notification step (the outbox)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select
from sqlmodel import Session

from models.messages import AppealWindow, Rectification, UnitDigest
from models.persistence.database import session_scope
from models.persistence.tables import (
    MonthlyAssessment,
    ProblemClosure,
    ProblemEntry,
    ProgressRecord,
    columns_of,
)
from models.plans.digests import missing_upload_digests, monthly_digests
from models.plans.monthly import MonthlyPlan, MonthSnapshot
from models.rules import Period, WorkCalendar
from tasks.delivery import queue_digests, send_window
from tasks.monthly import load_indicators, load_units
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules


def load_previous_pre_deductions(
    session: Session, month: Period, units: tuple[int, int] | None = None
) -> dict[tuple[int, int], Decimal]:
    """Last month's pre-deduction per (unit, indicator); January starts the year at zero."""
    if month.index == 1:
        return {}
    ma = columns_of(MonthlyAssessment)
    query = select(ma.unit_id, ma.indicator_id, ma.pre_deduction).where(
        ma.period == month.previous().key
    )
    if units is not None:
        query = query.where(ma.unit_id.between(units[0], units[1]))
    rows = session.execute(query)
    return {(u, i): Decimal(p).quantize(Decimal("0.01")) for u, i, p in rows}


def load_open_rectifications(session: Session) -> dict[int, list[Rectification]]:
    """Open problems (no closure yet) per unit."""
    pe, pc = columns_of(ProblemEntry), columns_of(ProblemClosure)
    closed = select(pc.problem_id)
    rows = session.execute(
        select(pe.id, pe.unit_id, pe.description, pe.rectify_by).where(pe.id.not_in(closed))
    )
    out: dict[int, list[Rectification]] = defaultdict(list)
    for pid, unit_id, description, rectify_by in rows:
        out[unit_id].append(Rectification(pid, description, rectify_by))
    return dict(out)


def load_submitted(session: Session, month: Period) -> frozenset[tuple[int, int]]:
    """(unit, indicator) pairs whose latest non-draft version is a submitted value."""
    pr = columns_of(ProgressRecord)
    rows = session.execute(
        select(pr.unit_id, pr.indicator_id, pr.status, pr.updated_at, pr.record_id, pr.value)
        .where(pr.period == month.key, pr.status != "draft")
        .order_by(pr.updated_at, pr.record_id)
    )
    latest: dict[tuple[int, int], bool] = {}
    for unit_id, indicator_id, status, _updated, _rid, value in rows:
        latest[(unit_id, indicator_id)] = status == "submitted" and value is not None
    return frozenset(key for key, ok in latest.items() if ok)


def _queue(session: Session, digests: list[UnitDigest], now: datetime, run_id: int | None,
           year: int, calendar: WorkCalendar) -> dict[str, int]:  # fmt: skip
    rules = load_year_rules(session, year)
    plans = queue_digests(
        session,
        digests,
        now=now,
        send_at_fn=send_window(calendar, rules),
        cycle_run_id=run_id,
    )
    counts: dict[str, int] = defaultdict(int)
    for p in plans:
        counts[str(p.action)] += 1
    counts["units_with_nothing_to_act_on"] = sum(1 for d in digests if d.is_empty)
    return dict(counts)


def queue_monthly_digests(
    session: Session,
    plan: MonthlyPlan,
    snapshot: MonthSnapshot,
    run_id: int,
    now: datetime,
    calendar: WorkCalendar,
) -> dict[str, int]:
    """One digest per unit with something to act on, into the outbox (never twice)."""
    digests = monthly_digests(
        plan,
        snapshot.units,
        snapshot.indicators,
        load_previous_pre_deductions(session, plan.month, _unit_range(snapshot)),
        AppealWindow.from_delivery(snapshot.rules.appeal_working_days),
        load_open_rectifications(session),
    )
    return _queue(session, digests, now, run_id, plan.month.year, calendar)


def _unit_range(snapshot: MonthSnapshot) -> tuple[int, int] | None:
    ids = [u.id for u in snapshot.units]
    return (min(ids), max(ids)) if ids else None


@task(name="queue-missing-upload-reminders", cache_policy=NO_CACHE)
def queue_missing_upload_reminders_task(
    runtime: Runtime, period: str, run_id: int, now: datetime
) -> dict[str, int]:
    month = Period.parse(period)
    with session_scope(runtime.engine) as session:
        rules = load_year_rules(session, month.year)
        deadline = runtime.calendar.upload_deadline(month, rules)
        digests = missing_upload_digests(
            month.key,
            load_units(session, None, month),
            load_indicators(session, month.year, month),
            load_submitted(session, month),
            deadline,
        )
        return _queue(session, digests, now, run_id, month.year, runtime.calendar)
