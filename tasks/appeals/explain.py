"""What ``assess explain`` and the recompute run's artifact show about one cell:
``load_explain`` gathers the chain (versions, observation, appeals, rulings, ledger
entries, results) as ``models.plans.explain.ExplainFacts``.
"""

from __future__ import annotations

from decimal import Decimal

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, select
from sqlmodel import Session

from models.persistence.database import session_scope
from models.persistence.tables import (
    Appeal,
    CommitteeDecision,
    ExpertRecommendation,
    Indicator,
    Unit,
    columns_of,
)
from models.persistence.tables import Ruling as RulingRow
from models.plans.explain import (
    AppealFact,
    CommitteeFact,
    EntryFact,
    ExplainFacts,
    NegativeFact,
    ResultFact,
    RulingFact,
    VersionFact,
    WarningFact,
)
from models.plans.monthly import IndicatorSnap, UnitSnap
from models.plans.recompute import CellState
from models.rules import MISSING, Level, Period, WorkCalendar, assess, deadline_cutoff
from tasks.appeals.reads import (
    APPEAL,
    DED,
    IND,
    NEG,
    PROG,
    RES,
    RULING,
    UNIT,
    WARN,
    ZERO,
    aware,
    dec,
    load_cells,
    pts,
    raw_observation,
)
from tasks.monthly import indicator_spec, load_indicators
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules

__all__ = [
    "NotFound",
    "explain_task",
    "load_explain",
]


class NotFound(LookupError):
    """A unit or indicator asked for does not exist (``what``: unit | indicator)."""

    def __init__(self, what: str, code: str, year: int | None = None) -> None:
        where = f" in {year}" if year is not None else ""
        super().__init__(f"{what} {code!r} does not exist{where}")
        self.what = what
        self.code = code
        self.year = year


def load_explain(
    session: Session, unit_code: str, indicator_code: str, period: str, calendar: WorkCalendar
) -> ExplainFacts:
    """Everything ``models.plans.explain.explain_markdown`` shows about one cell."""
    month = Period.parse(period)
    if month.kind.value != "month":
        raise ValueError(f"explain needs a month such as 2026-03, not {period!r}")
    year = month.year
    unit_row = session.execute(select(Unit).where(UNIT.code == unit_code)).scalar_one_or_none()
    if unit_row is None or unit_row.id is None:
        raise NotFound("unit", unit_code)
    ind_row = session.execute(
        select(Indicator).where(IND.year == year, IND.code == indicator_code)
    ).scalar_one_or_none()
    if ind_row is None or ind_row.id is None:
        raise NotFound("indicator", indicator_code, year)
    rules = load_year_rules(session, year)
    unit = UnitSnap(
        unit_row.id, unit_row.code, unit_row.name, unit_row.category, unit_row.on_platform
    )
    indicator = IndicatorSnap(
        ind_row.id,
        ind_row.code,
        ind_row.name,
        Decimal(ind_row.weight),
        indicator_spec(ind_row),
        frozenset(ind_row.categories),
        ind_row.unit_of_measure,
    )
    versions = tuple(
        VersionFact(
            rid,
            dec(value),
            status,
            aware(updated),
            None if reported is None else aware(reported),
        )
        for rid, value, status, updated, reported in session.execute(
            select(PROG.record_id, PROG.value, PROG.status, PROG.updated_at, PROG.reported_at)
            .where(
                PROG.period == month.key, PROG.unit_id == unit.id, PROG.indicator_id == indicator.id
            )
            .order_by(PROG.updated_at, PROG.record_id)
        )
    )
    observation = raw_observation(session, unit, indicator, month, calendar, rules)
    if observation is MISSING:
        observed = "missing"
    elif isinstance(observation, Decimal | int | float | str):
        observed = "value"
    else:
        observed = "unavailable"
    platform_state = CellState.of(
        assess(indicator.spec, indicator.weight, month.index, observation, rules)
    )
    stored = load_cells(session, unit.id, [month.key]).get((indicator.id, month.key))
    appeals = [
        AppealFact(
            a.id or 0,
            a.platform_id,
            a.kind,
            a.status,
            aware(a.filed_at),
            a.reason,
            dec(a.claimed_value),
            a.refusal_reason,
        )
        for a in session.execute(
            select(Appeal)
            .where(
                APPEAL.unit_id == unit.id,
                APPEAL.indicator_id == indicator.id,
                APPEAL.period == month.key,
            )
            .order_by(APPEAL.id)
        ).scalars()
    ]
    rulings: list[RulingFact] = []
    for a in appeals:
        for r in session.execute(
            select(RulingRow).where(RULING.appeal_id == a.id).order_by(RULING.id)
        ).scalars():
            rec = session.execute(
                select(ExpertRecommendation).where(
                    columns_of(ExpertRecommendation).ruling_id == r.id
                )
            ).scalar_one_or_none()
            committee = tuple(
                CommitteeFact(c.approved, c.document_ref, c.note, aware(c.decided_at))
                for c in session.execute(
                    select(CommitteeDecision)
                    .where(columns_of(CommitteeDecision).ruling_id == r.id)
                    .order_by(columns_of(CommitteeDecision).id)
                ).scalars()
            )
            rulings.append(
                RulingFact(
                    id=r.id or 0,
                    appeal_id=a.id,
                    kind=r.kind,
                    reason=r.reason,
                    document_ref=r.document_ref,
                    ruled_by=r.ruled_by,
                    ruled_at=aware(r.ruled_at),
                    effective_at=None if r.effective_at is None else aware(r.effective_at),
                    corrected_value=dec(r.corrected_value),
                    share=dec(r.share),
                    recommendation=None if rec is None else rec.recommendation,
                    experts="" if rec is None else rec.experts,
                    committee=committee,
                )
            )
    entries = tuple(
        EntryFact(i, p, k, st, pts(am), lv, dec(c), cor, rul, aware(at), note, rev)
        for i, p, k, st, am, lv, c, cor, rul, at, note, rev in session.execute(
            select(
                DED.id,
                DED.period,
                DED.kind,
                DED.stage,
                DED.amount,
                DED.level,
                DED.completion,
                DED.corrects_id,
                DED.ruling_id,
                DED.created_at,
                DED.note,
                DED.revision_id,
            )
            .where(DED.unit_id == unit.id, DED.indicator_id == indicator.id, DED.year == year)
            .order_by(DED.id)
        )
    )
    warnings = tuple(
        WarningFact(i, lv, dec(c), cor, rul, aware(at), rev)
        for i, lv, c, cor, rul, at, rev in session.execute(
            select(
                WARN.id,
                WARN.level,
                WARN.completion,
                WARN.corrects_id,
                WARN.ruling_id,
                WARN.created_at,
                WARN.revision_id,
            )
            .where(
                WARN.unit_id == unit.id, WARN.indicator_id == indicator.id, WARN.period == month.key
            )
            .order_by(WARN.id)
        )
    )
    negative = tuple(
        NegativeFact(i, p, e, rul, rev)
        for i, p, e, rul, rev in session.execute(
            select(NEG.id, NEG.period, NEG.event, NEG.ruling_id, NEG.revision_id)
            .where(NEG.unit_id == unit.id, NEG.period.like(f"{year:04d}-%"))
            .order_by(NEG.id)
        )
    )
    results = tuple(
        ResultFact(i, cy, p, pts(s), pts(d), pts(w), rk, g, rul, aware(at), v, cause)
        for i, cy, p, s, d, w, rk, g, rul, at, v, cause in session.execute(
            select(
                RES.id,
                RES.cycle,
                RES.period,
                RES.score,
                RES.deductions,
                RES.total_weight,
                RES.rank,
                RES.grade,
                RES.ruling_id,
                RES.created_at,
                RES.version,
                RES.cause,
            )
            .where(RES.unit_id == unit.id, RES.period.like(f"{year:04d}%"))
            .order_by(RES.id)
        )
    )
    weights = [  # the catalog as of the month explained
        i.weight for i in load_indicators(session, year, month) if unit.category in i.categories
    ]
    total = session.execute(
        select(func.sum(DED.amount)).where(DED.unit_id == unit.id, DED.year == year)
    ).scalar_one_or_none()
    notes: list[str] = []
    if stored is not None and stored.level == Level.UNAVAILABLE.value:
        notes.append("该月平台数据暂不可用，不属于单位责任，不预扣分。")
    return ExplainFacts(
        unit_code=unit.code,
        unit_name=unit.name,
        category=unit.category,
        indicator_code=indicator.code,
        indicator_name=indicator.name,
        weight=indicator.weight,
        direction=ind_row.direction,
        target=dec(ind_row.target),
        baseline=dec(ind_row.baseline),
        unit_of_measure=indicator.unit_of_measure,
        period=month.key,
        deadline=calendar.upload_deadline(month, rules),
        cutoff=deadline_cutoff(month, calendar, rules),
        versions=versions,
        observation=observed,
        platform_state=platform_state,
        stored=stored,
        appeals=tuple(appeals),
        rulings=tuple(rulings),
        entries=entries,
        warnings=warnings,
        negative=negative,
        results=results,
        total_weight=sum(weights, ZERO),
        unit_deductions=ZERO if total is None else pts(total),
        notes=tuple(notes),
    )


@task(name="explain-cell", cache_policy=NO_CACHE)
def explain_task(
    runtime: Runtime, unit_code: str, indicator_code: str, period: str
) -> ExplainFacts:
    with session_scope(runtime.engine) as session:
        return load_explain(session, unit_code, indicator_code, period, runtime.calendar)
