"""Problems found by analysis in the database: gather, decide (``models.plans.problems``), apply.

- ``open_quarter_problems``: at the quarterly monitoring, the quarter's months'
  levels (as of the quarter) and the problems already opened for it decide what to
  open (``ProblemEntry``, source ``analysis``, with the indicator and the next
  quarter's last upload deadline); then the later months already analysed close
  what they would have closed had the quarter been monitored on time.
- ``close_problems_by_month``: the monthly analysis of a month closes the open
  analysis problems of a batch's units whose indicator is green or yellow in it.

Both append only (``ProblemEntry``, ``ProblemClosure``); a rerun adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import insert, select
from sqlmodel import Session

from models.persistence.database import session_scope
from models.persistence.tables import (
    Indicator,
    MonthlyAssessment,
    ProblemClosure,
    ProblemEntry,
    columns_of,
)
from models.plans.problems import (
    ANALYSIS_SOURCE,
    OpenAnalysisProblem,
    Pair,
    ProblemClosing,
    plan_problem_closures,
    plan_quarter_problems,
    rectification_month,
)
from models.rules import Period, WorkCalendar
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules

MA = columns_of(MonthlyAssessment)
PROB = columns_of(ProblemEntry)
CLOSE = columns_of(ProblemClosure)
IND = columns_of(Indicator)


def load_pair_levels(
    session: Session, months: Iterable[str], unit_ids: Iterable[int] | None = None
) -> dict[Pair, dict[str, str]]:
    """(unit, indicator) → month → level, for ``months`` (and ``unit_ids`` when given)."""
    stmt = select(MA.unit_id, MA.indicator_id, MA.period, MA.level).where(
        MA.period.in_(sorted(set(months)))
    )
    if unit_ids is not None:
        stmt = stmt.where(MA.unit_id.in_(sorted(set(unit_ids))))
    out: dict[Pair, dict[str, str]] = {}
    for unit_id, indicator_id, period, level in session.execute(stmt.order_by(MA.id)):
        out.setdefault((unit_id, indicator_id), {})[period] = level
    return out


def load_open_analysis_problems(
    session: Session, *, period: str | None = None, unit_range: tuple[int, int] | None = None
) -> list[OpenAnalysisProblem]:
    """Open problems opened by analysis (of a quarter, of a range of unit ids)."""
    stmt = select(PROB.id, PROB.unit_id, PROB.indicator_id, PROB.period).where(
        PROB.source == ANALYSIS_SOURCE,
        PROB.indicator_id.is_not(None),
        PROB.id.not_in(select(CLOSE.problem_id)),
    )
    if period is not None:
        stmt = stmt.where(PROB.period == period)
    if unit_range is not None:
        stmt = stmt.where(PROB.unit_id.between(*unit_range))
    return [
        OpenAnalysisProblem(i, u, int(ind), p)
        for i, u, ind, p in session.execute(stmt.order_by(PROB.id))
    ]


def save_closings(session: Session, closings: list[ProblemClosing], now: datetime) -> None:
    if closings:
        session.execute(
            insert(ProblemClosure),
            [{"problem_id": c.problem_id, "closed_at": now, "note": c.note} for c in closings],
        )


def later_months(quarter: Period, known: Iterable[str]) -> list[str]:
    last = quarter.months()[-1]
    return sorted(m for m in set(known) if last < Period.parse(m))


def open_quarter_problems(
    session: Session, quarter_key: str, now: datetime, calendar: WorkCalendar
) -> dict[str, int]:
    """Open the quarter's analysis problems (each once) and apply later months' closings."""
    quarter = Period.parse(quarter_key)
    months = [m.key for m in quarter.months()]
    existing = {
        (u, int(i))
        for u, i in session.execute(
            select(PROB.unit_id, PROB.indicator_id).where(
                PROB.source == ANALYSIS_SOURCE,
                PROB.period == quarter.key,
                PROB.indicator_id.is_not(None),
            )
        )
    }
    due_month = rectification_month(quarter)
    rules = load_year_rules(session, due_month.year)
    rectify_by = calendar.upload_deadline(due_month, rules)
    names = dict(session.execute(select(IND.id, IND.name)).all())
    plans = plan_quarter_problems(
        quarter, load_pair_levels(session, months), existing, rectify_by, names
    )
    if plans:
        session.execute(
            insert(ProblemEntry),
            [
                {
                    "unit_id": p.unit_id,
                    "source": ANALYSIS_SOURCE,
                    "period": p.period,
                    "indicator_id": p.indicator_id,
                    "description": p.description,
                    "rectify_by": p.rectify_by,
                    "created_at": now,
                }
                for p in plans
            ],
        )
    still_open = load_open_analysis_problems(session, period=quarter.key)
    known = [p for (p,) in session.execute(select(MA.period).distinct())]
    later = later_months(quarter, known)
    closings: list[ProblemClosing] = []
    if still_open and later:
        units = {p.unit_id for p in still_open}
        closings = plan_problem_closures(still_open, load_pair_levels(session, later, units))
        save_closings(session, closings, now)
    return {"opened": len(plans), "closed": len(closings)}


def close_problems_by_month(
    session: Session, month: str, unit_range: tuple[int, int], now: datetime
) -> int:
    """Close the open analysis problems of ``unit_range`` that ``month`` clears."""
    problems = load_open_analysis_problems(session, unit_range=unit_range)
    if not problems:
        return 0
    levels = load_pair_levels(session, [month], {p.unit_id for p in problems})
    closings = plan_problem_closures(problems, levels)
    save_closings(session, closings, now)
    return len(closings)


@task(name="open-analysis-problems", cache_policy=NO_CACHE)
def open_quarter_problems_task(runtime: Runtime, quarter: str, now: datetime) -> dict[str, int]:
    """Open the quarter's problems found by analysis; how many opened and closed."""
    with session_scope(runtime.engine) as session:
        return open_quarter_problems(session, quarter, now, runtime.calendar)
