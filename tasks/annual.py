"""The annual results' I/O: result notices, uses of results (七关联), the office's report.

- ``load_annual_results`` / ``load_result_uses`` / ``record_result_use``: the year's
  latest ``ResultEntry`` per unit and the ``ResultUse`` rows.
- ``queue_result_notices``: each unit's result notice (it opens the appeal window).
- ``load_year_completions``: the year's completions per indicator, month and unit
  (for the simplification proposals).
- ``gather_burden_counts``: the plain counts behind the experience report
  (``models.plans.burden``), taken from the records only.

Prefect tasks at the bottom wrap them for the annual flow (``NO_CACHE``).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from decimal import Decimal

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, select
from sqlmodel import Session

from models.catalog.vocabulary import COUNTING_ITEM_STATUSES, RESULT_USES
from models.errors import OfficeError
from models.messages import AppealWindow, MessagePlan
from models.persistence.database import session_scope
from models.persistence.tables import (
    CycleRun,
    Message,
    MonthlyAssessment,
    OnsiteCheckFinding,
    OnsiteCheckPlan,
    ProblemClosure,
    ProblemEntry,
    ResultEntry,
    ResultUse,
    Unit,
    columns_of,
)
from models.plans.annual import (
    AnnualResult,
    IndicatorRef,
    RecordedUse,
    SimplificationProposal,
    result_notice_digests,
    simplification_proposals,
)
from models.plans.burden import BurdenCounts, SamePeriod, items_revised_in_year
from models.rules import SHANGHAI, Cycle, Level, WorkCalendar, YearRules, to_shanghai
from tasks.catalog import load_catalog, load_revisions
from tasks.delivery import queue_digests, send_window
from tasks.monthly import load_indicators
from tasks.onsite_tasks import ONSITE_SOURCE
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules

RES = columns_of(ResultEntry)
USE = columns_of(ResultUse)
UNIT = columns_of(Unit)
MA = columns_of(MonthlyAssessment)
MSG = columns_of(Message)
PROB = columns_of(ProblemEntry)
CLOSE = columns_of(ProblemClosure)
PLAN = columns_of(OnsiteCheckPlan)
FIND = columns_of(OnsiteCheckFinding)
RUN = columns_of(CycleRun)

ANNUAL = Cycle.ANNUAL_ASSESSMENT.value


class ResultsError(OfficeError, ValueError):
    """A request about results the office must correct (message in Chinese)."""


# ------------------------------------------------------------------------- results


def load_annual_results(
    session: Session, year: int, category: str | None = None
) -> list[AnnualResult]:
    """Each unit's latest annual result of ``year`` (a recomputation appends a newer one),
    of every unit or one category's."""
    where = [RES.cycle == ANNUAL, RES.period == str(year)]
    if category is not None:
        where.append(RES.category == category)
    latest = select(func.max(RES.id).label("id")).where(*where).group_by(RES.unit_id).subquery()
    rows = session.execute(
        select(
            UNIT.code,
            UNIT.name,
            UNIT.kind,
            RES.category,
            RES.score,
            RES.rank,
            RES.grade,
            RES.deductions,
            RES.total_weight,
        )
        .join(latest, latest.c.id == RES.id)
        .join(Unit, UNIT.id == RES.unit_id)
        .order_by(UNIT.code)
    )
    return [
        AnnualResult(
            code, name, kind, category, Decimal(score), rank, grade or "", Decimal(d), Decimal(w)
        )
        for code, name, kind, category, score, rank, grade, d, w in rows
    ]


def load_result_uses(session: Session, year: int) -> list[RecordedUse]:
    rows = session.execute(
        select(UNIT.code, USE.use, USE.reference, USE.recorded_at)
        .join(Unit, UNIT.id == USE.unit_id)
        .where(USE.year == year)
        .order_by(USE.id)
    )
    return [RecordedUse(code, use, reference, at) for code, use, reference, at in rows]


def record_result_use(
    session: Session,
    unit_code: str,
    year: int,
    use: str,
    reference: str,
    now: datetime,
    people: int = 0,
) -> ResultUse:
    """Record that a unit's annual result fed a use (e.g. a promotion recommendation of
    ``people`` cadres: an ``appointment`` names at least one)."""
    if use not in RESULT_USES:
        choices = "、".join(f"{k}（{v}）" for k, v in RESULT_USES.items())
        raise ResultsError(f"未知的结果运用方向“{use}”，可选：{choices}。")
    if people < 0 or (use == "appointment" and people < 1):
        raise ResultsError("提拔任用推荐须写明推荐人数（至少 1 人），例如 --people 3。")
    unit = session.execute(select(Unit).where(UNIT.code == unit_code)).scalar_one_or_none()
    if unit is None or unit.id is None:
        raise ResultsError(f"单位编码“{unit_code}”不存在。")
    has_result = session.execute(
        select(RES.id).where(RES.cycle == ANNUAL, RES.period == str(year), RES.unit_id == unit.id)
    ).first()
    if has_result is None:
        raise ResultsError(
            f"{unit.name}（{unit.code}）尚无 {year} 年度考核结果，不能登记结果运用。"
        )
    row = ResultUse(
        year=year,
        unit_id=unit.id,
        use=use,
        reference=reference.strip(),
        recorded_at=now,
        people=people,
    )
    session.add(row)
    session.flush()
    return row


def _appeal_end(sent_at: datetime, calendar: WorkCalendar, rules: YearRules) -> date:
    local = to_shanghai(sent_at)
    return calendar.add_working_days(
        date(local.year, local.month, local.day), rules.appeal_working_days
    )


def previous_notices(
    session: Session,
    year: int,
    calendar: WorkCalendar,
    rules: YearRules,
    category: str | None = None,
) -> dict[str, tuple[str, date]]:
    """Per unit (of every unit, or of those with an annual result in ``category``): the
    content hash and appeal end of its current annual result notice. The appeal end is
    worked out once per sending time (on the holiday calendar, ~0.4 ms each)."""
    where = [MSG.kind == ANNUAL, MSG.period == str(year), MSG.audience == "unit"]
    if category is not None:
        where.append(
            MSG.unit_id.in_(
                select(RES.unit_id).where(
                    RES.cycle == ANNUAL, RES.period == str(year), RES.category == category
                )
            )
        )
    rows = session.execute(
        select(UNIT.code, MSG.content_hash, MSG.due_at, MSG.status)
        .join(Unit, UNIT.id == MSG.unit_id)
        .where(*where)
        .order_by(MSG.id)
    )
    ends: dict[datetime, date] = {}
    out: dict[str, tuple[str, date]] = {}
    for code, digest_hash, due_at, status in rows:
        if status in ("withdrawn", "superseded"):
            continue
        at = due_at if due_at.tzinfo else due_at.replace(tzinfo=SHANGHAI)
        if at not in ends:
            ends[at] = _appeal_end(at, calendar, rules)
        out[code] = (digest_hash, ends[at])
    return out


def queue_result_notices(
    session: Session, year: int, now: datetime, calendar: WorkCalendar, run_id: int | None
) -> list[MessagePlan]:
    """Queue every unit's annual result notice; the appeal window runs from its sending."""
    results = load_annual_results(session, year)
    if not results:
        return []
    rules = load_year_rules(session, year)
    send_at = send_window(calendar, rules)
    ends = AppealWindow.from_delivery(rules.appeal_working_days)  # filled in at delivery
    digests = result_notice_digests(
        results, year, ends, previous_notices(session, year, calendar, rules)
    )
    return queue_digests(session, digests, now=now, send_at_fn=send_at, cycle_run_id=run_id)


# ------------------------------------------------------------------- simplification


def load_year_completions(
    session: Session, year: int
) -> tuple[list[IndicatorRef], dict[int, dict[str, dict[int, Decimal]]]]:
    """The year's assessed indicators and their completions: indicator → month → unit."""
    indicators = [IndicatorRef(i.id, i.code, i.name) for i in load_indicators(session, year)]
    rows = session.execute(
        select(MA.indicator_id, MA.period, MA.unit_id, MA.completion).where(
            MA.year == year,
            MA.completion.is_not(None),
            MA.level.not_in([Level.MISSING.value, Level.UNAVAILABLE.value]),
        )
    )
    out: dict[int, dict[str, dict[int, Decimal]]] = {}
    for indicator_id, period, unit_id, value in rows:
        out.setdefault(indicator_id, {}).setdefault(period, {})[unit_id] = Decimal(value)
    return indicators, out


def year_proposals(session: Session, year: int, through: int = 12) -> list[SimplificationProposal]:
    indicators, completions = load_year_completions(session, year)
    rules = load_year_rules(session, year)
    return simplification_proposals(indicators, completions, rules, through)


# ------------------------------------------------------------------------ the report


def gather_burden_counts(session: Session, year: int) -> BurdenCounts:
    """Every count of rulebook section 10 for ``year``, from the records alone."""
    # The catalog with the year's revisions applied: items added or retired during the
    # year (issue 14) count like the rest.
    catalog = load_catalog(session)
    items = [
        (i.year, i.code, i.key, i.name)
        for i in catalog.items
        if i.year in (year, year - 1) and i.status in COUNTING_ITEM_STATUSES
    ]
    codes = {y: frozenset(c for yy, c, _, _ in items if yy == y) for y in (year, year - 1)}
    keys = {y: sum(1 for yy, _, k, _ in items if yy == y and k) for y in (year, year - 1)}
    # A code's name as of the later year it appears in.
    item_names = {code: name for _, code, _, name in sorted(items, key=lambda r: r[0])}

    lifecycles: dict[str, list[str]] = {"merged": [], "adapted": [], "simplified": []}
    for ind in catalog.indicators:  # sorted by (year, code)
        if ind.year == year and ind.lifecycle in lifecycles:
            lifecycles[ind.lifecycle].append(ind.name)

    units = session.execute(select(UNIT.id, UNIT.kind, UNIT.on_platform, UNIT.category)).all()
    categories = Counter(u.category for u in units)
    counties = [u for u in units if u.kind == "county"]
    departments = [u for u in units if u.kind == "department"]

    problems = session.execute(
        select(PROB.id, PROB.id.in_(select(CLOSE.problem_id)).label("closed")).where(
            PROB.source == ONSITE_SOURCE, PROB.period.like(f"{year}-%")
        )
    ).all()

    promoted = session.execute(
        select(UNIT.code)
        .join(ResultUse, USE.unit_id == UNIT.id)
        .where(USE.year == year, USE.use == "appointment")
        .distinct()
        .order_by(UNIT.code)
    ).all()
    promoted_people = session.execute(
        select(func.coalesce(func.sum(USE.people), 0)).where(
            USE.year == year, USE.use == "appointment"
        )
    ).scalar_one()
    months_run = session.execute(
        select(func.count(func.distinct(RUN.period))).where(
            RUN.cycle == Cycle.MONTHLY_ANALYSIS.value,
            RUN.period.like(f"{year}-%"),
            RUN.status.in_(["completed", "partial"]),
        )
    ).scalar_one()

    delivered = session.execute(
        select(MSG.unit_id, MSG.delivered_at).where(
            MSG.audience == "unit",
            MSG.status == "delivered",
            MSG.period.like(f"{year}%"),
        )
    ).all()
    per_unit_month: Counter[tuple[int, str]] = Counter(
        (unit_id, f"{to_shanghai(at):%Y-%m}") for unit_id, at in delivered if at is not None
    )

    plans = session.execute(
        select(PLAN.id, PLAN.sample).where(PLAN.period.like(f"{year}-Q%"))
    ).all()
    plan_ids = [pid for pid, _ in plans]
    checks = (
        int(
            session.execute(
                select(func.count()).select_from(
                    select(FIND.unit_id, FIND.checked_on)
                    .where(FIND.plan_id.in_(plan_ids))
                    .distinct()
                    .subquery()
                )
            ).scalar_one()
        )
        if plan_ids
        else 0
    )

    added_in_year, removed_in_year = items_revised_in_year(load_revisions(session, year), year)
    latest = session.execute(
        select(func.max(RUN.period)).where(
            RUN.cycle == Cycle.MONTHLY_ANALYSIS.value,
            RUN.period.like(f"{year}-%"),
            RUN.status.in_(["completed", "partial"]),
        )
    ).scalar_one()
    same_period = None
    if latest is not None:
        month = int(str(latest)[5:7])
        now_items, then_items = (
            sum(
                1
                for i in load_catalog(session, f"{y}-{month:02d}").items
                if i.year == y and i.status in COUNTING_ITEM_STATUSES
            )
            for y in (year, year - 1)
        )
        same_period = SamePeriod(month, now_items, then_items)

    return BurdenCounts(
        year=year,
        key_items=keys[year],
        key_items_last_year=keys[year - 1],
        item_codes=codes[year],
        item_codes_last_year=codes[year - 1],
        merged=tuple(lifecycles["merged"]),
        adapted=tuple(lifecycles["adapted"]),
        simplified=tuple(lifecycles["simplified"]),
        proposals=tuple(p.indicator_name for p in year_proposals(session, year)),
        counties=len(counties),
        counties_on_platform=sum(1 for u in counties if u.on_platform),
        departments=len(departments),
        departments_on_platform=sum(1 for u in departments if u.on_platform),
        onsite_problems=len(problems),
        onsite_problems_closed=sum(1 for _, closed in problems if closed),
        promotion_units=tuple(code for (code,) in promoted),
        messages_delivered=len(delivered),
        units=len(units),
        messages_max_unit_month=max(per_unit_month.values(), default=0),
        onsite_plans=len(plans),
        onsite_sampled=sum(len(sample) for _, sample in plans),
        onsite_checks=checks,
        months=int(months_run),
        item_names=item_names,
        categories={k: categories[k] for k in sorted(categories)},
        items_added_in_year=added_in_year,
        items_removed_in_year=removed_in_year,
        same_period=same_period,
        promoted_people=int(promoted_people),
    )


# ---------------------------------------------------------------------------- tasks


@task(name="queue-result-notices", cache_policy=NO_CACHE)
def queue_result_notices_task(runtime: Runtime, year: int, run_id: int, now: datetime) -> int:
    """Queue the units' result notices; returns how many messages were created."""
    with session_scope(runtime.engine) as session:
        plans = queue_result_notices(session, year, now, runtime.calendar, run_id)
    return sum(1 for p in plans if p.creates_message)


@task(name="simplification-proposals", cache_policy=NO_CACHE)
def simplification_proposals_task(
    runtime: Runtime, year: int, through: int = 12
) -> list[SimplificationProposal]:
    """Low-discrimination proposals over months 1..``through`` (6 at the half-year)."""
    with session_scope(runtime.engine) as session:
        return year_proposals(session, year, through)


@task(name="gather-burden-counts", cache_policy=NO_CACHE)
def gather_burden_counts_task(runtime: Runtime, year: int) -> BurdenCounts:
    with session_scope(runtime.engine) as session:
        return gather_burden_counts(session, year)
