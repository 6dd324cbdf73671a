"""On-site checks in the database: the quarter's confidential plan, findings, problems.

- ``draw_and_save_plan``: the quarter's candidates (units with red or missing cells,
  weighted by their count) are drawn with a fresh random seed (``fresh_seed``) and
  stored as ``OnsiteCheckPlan``. A quarter's plan is drawn once; running the
  quarter again keeps it. The Prefect task returns only the plan's id and whether it
  is new: no unit, weight or seed ever reaches a task result, a log or an artifact.
- ``record_finding``: a finding (``OnsiteCheckFinding``) and its problem
  (``ProblemEntry``, source ``onsite_check``), then ``queue_rectification_notice``.
- ``queue_reminders``: rectification reminders due on a day, each problem once.
- ``close_problem``: appends the ``ProblemClosure``.
- The office's flows' tasks: ``record_finding_task``, ``queue_reminders_task``,
  ``close_problem_task`` (one transaction each; the flows pass their clock's ``now``).
- ``onsite_export_payload``: the office's export of a plan.

Error messages meant for the office are in Chinese (``OnsiteError``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.messages import MessagePlan
from models.persistence.database import session_scope
from models.persistence.tables import (
    Message,
    MonthlyAssessment,
    OnsiteCheckFinding,
    OnsiteCheckPlan,
    ProblemClosure,
    ProblemEntry,
    Unit,
    columns_of,
)
from models.plans.onsite import (
    DEFAULT_REMINDER_WORKING_DAYS,
    RED_LEVELS,
    SEED_BOUND,
    Candidate,
    FindingForm,
    OnsiteDraw,
    OnsiteError,
    ProblemSnap,
    SampleRule,
    candidates_from_levels,
    check_finding,
    draw_plan,
    plan_export,
    problems_in_body,
    rectification_notice,
    rectification_reminders,
)
from models.rules import SHANGHAI, Period, WorkCalendar, local_text
from tasks.delivery import queue_digests, send_window
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules

MA = columns_of(MonthlyAssessment)
UNIT = columns_of(Unit)
PLAN = columns_of(OnsiteCheckPlan)
FIND = columns_of(OnsiteCheckFinding)
PROB = columns_of(ProblemEntry)
CLOSE = columns_of(ProblemClosure)
MSG = columns_of(Message)

ONSITE_SOURCE = "onsite_check"


def fresh_seed() -> int:
    """A new random seed for a plan, from the operating system's randomness."""
    return secrets.randbelow(SEED_BOUND)


# ------------------------------------------------------------------------------ draw


@dataclass(frozen=True)
class PlanOutcome:
    """What the quarterly flow may know about the draw: an id and whether it is new."""

    plan_id: int
    created: bool


def load_quarter_levels(session: Session, months: list[str]) -> dict[str, list[str]]:
    """Each unit's (by code) red or missing cells in ``months``."""
    rows = session.execute(
        select(UNIT.code, MA.level)
        .join(MonthlyAssessment, MA.unit_id == UNIT.id)
        .where(MA.period.in_(months), MA.level.in_(sorted(RED_LEVELS)))
    )
    out: dict[str, list[str]] = {}
    for code, level in rows:
        out.setdefault(code, []).append(level)
    return out


def _draw_of(row: OnsiteCheckPlan) -> OnsiteDraw:
    return OnsiteDraw(
        period=row.period,
        seed=row.seed,
        candidates=tuple(Candidate.from_dict(c) for c in row.candidates),
        sample=tuple(row.sample),
    )


def load_plan(session: Session, period: str) -> OnsiteCheckPlan | None:
    return session.execute(
        select(OnsiteCheckPlan).where(PLAN.period == period)
    ).scalar_one_or_none()


def draw_and_save_plan(
    session: Session,
    period: str,
    months: list[str],
    now: datetime,
    rule: SampleRule,
    seed: int | None = None,
) -> PlanOutcome:
    """Draw the quarter's plan and store it, unless the quarter has one already.

    A plan is never redrawn (no shopping for a sample), except one drawn when no
    unit had a red cell (e.g. the platform could not be read): it targeted no one.
    """
    existing = load_plan(session, period)
    if existing is not None and existing.candidates:
        assert existing.id is not None
        return PlanOutcome(existing.id, False)
    candidates = candidates_from_levels(load_quarter_levels(session, months))
    if existing is not None and not candidates:
        assert existing.id is not None
        return PlanOutcome(existing.id, False)
    draw = draw_plan(period, candidates, fresh_seed() if seed is None else seed, rule)
    row = existing or OnsiteCheckPlan(period=draw.period, seed=draw.seed, drawn_at=now)
    row.seed = draw.seed
    row.candidates = [c.as_dict() for c in draw.candidates]
    row.sample = list(draw.sample)
    row.drawn_at = now
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # another run drew the quarter at the same moment: keep theirs
        session.rollback()
        return draw_and_save_plan(session, period, months, now, rule, seed)
    assert row.id is not None
    return PlanOutcome(row.id, True)


@task(name="draw-onsite-plan", cache_policy=NO_CACHE)
def draw_onsite_plan_task(
    runtime: Runtime, period: str, months: list[str], now: datetime, share: float, minimum: int
) -> PlanOutcome:
    """Draw and store the quarter's confidential plan; returns only its id."""
    rule = SampleRule(share=Decimal(str(share)), minimum=minimum)
    with session_scope(runtime.engine) as session:
        return draw_and_save_plan(session, period, months, now, rule)


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class FindingOutcome:
    finding_id: int
    problem_id: int
    unit_code: str
    period: str


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI) + timedelta(days=1)


def plan_in_force(session: Session, checked_on: date, period: str | None = None) -> OnsiteCheckPlan:
    """The plan a check belongs to: the given quarter's, else the latest drawn by that day."""
    if period is not None:
        row = load_plan(session, period)
        if row is None:
            raise OnsiteError(f"{period} 尚未抽取实地核查计划，无法登记核查发现。")
        return row
    latest: OnsiteCheckPlan | None = session.execute(
        select(OnsiteCheckPlan)
        .where(PLAN.drawn_at < _end_of_day(checked_on))
        .order_by(PLAN.drawn_at.desc(), PLAN.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if latest is None:
        raise OnsiteError(
            f"{checked_on.isoformat()} 之前没有已抽取的实地核查计划，无法登记核查发现。"
        )
    return latest


def record_finding(
    session: Session,
    form: FindingForm,
    now: datetime,
    *,
    plan_period: str | None = None,
    allow_outside_sample: bool = False,
) -> FindingOutcome:
    """Record a finding and its problem (rectification deadline included)."""
    check_finding(form)
    unit = session.execute(select(Unit).where(UNIT.code == form.unit_code)).scalar_one_or_none()
    if unit is None or unit.id is None:
        raise OnsiteError(f"单位编码“{form.unit_code}”不存在。")
    plan = plan_in_force(session, form.checked_on, plan_period)
    assert plan.id is not None
    if form.unit_code not in plan.sample and not allow_outside_sample:
        raise OnsiteError(
            f"{unit.name}（{unit.code}）不在 {plan.period} 的抽查单位中；"
            "如确需登记，请注明超出抽样范围（allow_outside_sample）。"
        )
    finding = OnsiteCheckFinding(
        plan_id=plan.id,
        unit_id=unit.id,
        checked_on=form.checked_on,
        description=form.description.strip(),
        rectify_by=form.rectify_by,
        recorded_at=now,
    )
    session.add(finding)
    session.flush()
    assert finding.id is not None
    problem = ProblemEntry(
        unit_id=unit.id,
        source=ONSITE_SOURCE,
        period=plan.period,
        finding_id=finding.id,
        description=finding.description,
        rectify_by=form.rectify_by,
        created_at=now,
    )
    session.add(problem)
    session.flush()
    assert problem.id is not None
    return FindingOutcome(finding.id, problem.id, unit.code, plan.period)


def load_problems(
    session: Session,
    *,
    source: str | None = None,
    unit_code: str | None = None,
    period: str | None = None,
    open_only: bool = False,
) -> list[ProblemSnap]:
    """Problems of the problem ledger (closed ones flagged), oldest first."""
    closed = select(CLOSE.problem_id)
    stmt = (
        select(
            PROB.id,
            UNIT.code,
            UNIT.name,
            PROB.period,
            PROB.description,
            PROB.rectify_by,
            PROB.id.in_(closed).label("closed"),
        )
        .join(Unit, UNIT.id == PROB.unit_id)
        .order_by(PROB.id)
    )
    if source is not None:
        stmt = stmt.where(PROB.source == source)
    if unit_code is not None:
        stmt = stmt.where(UNIT.code == unit_code)
    if period is not None:
        stmt = stmt.where(PROB.period == period)
    if open_only:
        stmt = stmt.where(PROB.id.not_in(closed))
    return [
        ProblemSnap(i, code, name, p, d, r, bool(c))
        for i, code, name, p, d, r, c in session.execute(stmt)
    ]


def queue_rectification_notice(
    session: Session, unit_code: str, period: str, now: datetime, calendar: WorkCalendar
) -> list[MessagePlan]:
    """Queue the unit's rectification notice for ``period`` (all its open on-site problems)."""
    problems = load_problems(session, source=ONSITE_SOURCE, unit_code=unit_code, period=period)
    if not problems:
        return []
    digest = rectification_notice(unit_code, problems[0].unit_name, period, problems)
    rules = load_year_rules(session, Period.parse(period).year)
    return queue_digests(session, [digest], now=now, send_at_fn=send_window(calendar, rules))


# -------------------------------------------------------------------------- reminders


def reminded_problems(
    session: Session, slots: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], frozenset[int]]:
    """Per (unit code, period): the problems the slot's current reminder lists."""
    wanted = set(slots)
    if not wanted:
        return {}
    rows = session.execute(
        select(UNIT.code, MSG.period, MSG.body_text, MSG.status)
        .join(Unit, UNIT.id == MSG.unit_id)
        .where(
            MSG.kind == "rectification_reminder",
            MSG.audience == "unit",
            UNIT.code.in_({code for code, _ in wanted}),
        )
        .order_by(MSG.id)
    )
    out: dict[tuple[str, str], frozenset[int]] = {}
    for code, period, body, status in rows:
        if (code, period) in wanted and status not in ("withdrawn", "superseded"):
            out[(code, period)] = problems_in_body(body)
    return out


def queue_reminders(
    session: Session,
    today: date,
    now: datetime,
    calendar: WorkCalendar,
    working_days: int = DEFAULT_REMINDER_WORKING_DAYS,
) -> list[MessagePlan]:
    """Queue every rectification reminder due ``today`` (open problems, each once)."""
    problems = load_problems(session)
    slots = {(p.unit_code, p.period) for p in problems}
    digests = rectification_reminders(
        problems, today, calendar, working_days, reminded_problems(session, slots)
    )
    if not digests:
        return []
    rules = load_year_rules(session, today.year)
    return queue_digests(session, digests, now=now, send_at_fn=send_window(calendar, rules))


# ---------------------------------------------------------------------------- closing


def close_problem(session: Session, problem_id: int, note: str, now: datetime) -> ProblemClosure:
    """Close (销号) a problem: append its ``ProblemClosure``; a problem closes once."""
    problem = session.get(ProblemEntry, problem_id)
    if problem is None:
        raise OnsiteError(f"问题编号 {problem_id} 不存在。")
    done = session.execute(
        select(ProblemClosure).where(CLOSE.problem_id == problem_id)
    ).scalar_one_or_none()
    if done is not None:
        when = local_text(done.closed_at)
        raise OnsiteError(f"问题编号 {problem_id} 已于 {when} 销号，不能重复销号。")
    closure = ProblemClosure(problem_id=problem_id, closed_at=now, note=note.strip())
    session.add(closure)
    session.flush()
    return closure


# ------------------------------------------------------- the office's flows' tasks


@task(name="record-onsite-finding", cache_policy=NO_CACHE)
def record_finding_task(
    runtime: Runtime,
    form: FindingForm,
    now: datetime,
    plan_period: str | None = None,
    allow_outside_sample: bool = False,
) -> dict[str, Any]:
    """Record the finding and its problem and queue the notice, in one transaction."""
    with session_scope(runtime.engine) as session:
        outcome = record_finding(
            session,
            form,
            now,
            plan_period=plan_period,
            allow_outside_sample=allow_outside_sample,
        )
        plans = queue_rectification_notice(
            session, outcome.unit_code, outcome.period, now, runtime.calendar
        )
    return {
        "finding_id": outcome.finding_id,
        "problem_id": outcome.problem_id,
        "notice_queued": any(p.creates_message for p in plans),
    }


@task(name="queue-rectification-reminders", cache_policy=NO_CACHE)
def queue_reminders_task(runtime: Runtime, day: date, working_days: int, now: datetime) -> int:
    """Queue the rectification reminders due on ``day``; returns how many messages."""
    with session_scope(runtime.engine) as session:
        plans = queue_reminders(session, day, now, runtime.calendar, working_days)
    return sum(1 for p in plans if p.creates_message)


@task(name="close-problem", cache_policy=NO_CACHE)
def close_problem_task(
    runtime: Runtime, problem_id: int, note: str, now: datetime
) -> dict[str, Any]:
    """Close (销号) a problem of the problem ledger."""
    with session_scope(runtime.engine) as session:
        closure = close_problem(session, problem_id, note, now)
    return {"problem_id": problem_id, "closed_at": local_text(closure.closed_at)}


# ------------------------------------------------------------------- the office's export


def onsite_export_payload(session: Session, period: str) -> dict[str, Any]:
    """The office's export of a quarter's plan with its findings and their problems."""
    row = load_plan(session, period)
    if row is None:
        raise OnsiteError(f"{period} 没有实地核查抽样计划。")
    draw = _draw_of(row)
    codes = {c.unit_code for c in draw.candidates}
    names = dict(session.execute(select(UNIT.code, UNIT.name).where(UNIT.code.in_(codes))).all())
    closures = {
        pid: (at, note)
        for pid, at, note in session.execute(select(CLOSE.problem_id, CLOSE.closed_at, CLOSE.note))
    }
    findings: list[dict[str, Any]] = []
    rows = session.execute(
        select(FIND.id, UNIT.code, UNIT.name, FIND.checked_on, FIND.description, FIND.rectify_by)
        .join(Unit, UNIT.id == FIND.unit_id)
        .where(FIND.plan_id == row.id)
        .order_by(FIND.id)
    ).all()
    problem_of = dict(
        session.execute(
            select(PROB.finding_id, PROB.id).where(PROB.finding_id.in_([r[0] for r in rows]))
        ).all()
    )
    for fid, code, name, checked_on, description, rectify_by in rows:
        pid = problem_of.get(fid)
        closed = closures.get(pid) if pid is not None else None
        findings.append(
            {
                "核查记录编号": fid,
                "问题编号": pid,
                "单位编码": code,
                "单位名称": name,
                "核查日期": checked_on.isoformat(),
                "发现问题": description,
                "整改期限": rectify_by.isoformat(),
                "整改状态": "已销号" if closed else "整改中",
                "销号说明": closed[1] if closed else "",
            }
        )
    return plan_export(draw, row.drawn_at, names, findings)


def count_onsite_findings(session: Session, plan_ids: list[int]) -> int:
    if not plan_ids:
        return 0
    return int(
        session.execute(
            select(func.count()).select_from(
                select(FIND.unit_id, FIND.checked_on)
                .where(FIND.plan_id.in_(plan_ids))
                .distinct()
                .subquery()
            )
        ).scalar_one()
    )
