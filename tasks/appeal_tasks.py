"""Appeals in the database: intake, rulings, the committee's step, recomputation, explain.

- Intake (``collect_appeals``): reads the platform's appeals from the watermark
  (``collection_watermark`` source ``appeals``, period ``all``) and, in one
  transaction, checks them with ``models.plans.appeal_intake``, stores them once
  (unique ``platform_id``), sets bad records aside (``quarantined_record`` source
  ``appeals``), tells each unit with a newly refused appeal why (digest
  ``appeal_refused``) and advances the watermark.
- Rulings (``record_ruling`` / ``record_committee_decision``): a ruling takes
  effect at once, or, for force majeure and innovation appeals, once the
  committee approves the expert panel's recommendation.
- Recomputation (``recompute_ruling``): under the category's lock, in the one
  transaction that reads the ledgers and books: gather one unit's cells, ledgers
  and rulings and its category's published results, plan with
  ``models.plans.recompute``, book the correcting entries (all pointing to the
  ruling), and tell the unit (and any unit whose annual rank or grade changed).
- ``publish_year`` seals a year (see migration 0002); ``load_explain`` gathers the
  chain shown by ``assess explain`` and the recompute run's artifact.

The category's lock comes from ``tasks.locks``, held exclusively until commit (a
monthly batch holds the categories shared, so the two never interleave).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from models.messages import AppealDecision, UnitDigest
from models.persistence.database import session_scope
from models.persistence.tables import (
    Appeal,
    AssessmentYear,
    CollectionWatermark,
    CommitteeDecision,
    CycleRun,
    DeductionEntry,
    ExpertRecommendation,
    Indicator,
    Message,
    MonthlyAssessment,
    NegativeListEntry,
    ProgressRecord,
    QuarantinedRecord,
    ResultEntry,
    Unit,
    WarningEntry,
    columns_of,
    table_of,
)
from models.persistence.tables import Ruling as RulingRow
from models.plans.annual import result_notice_digests
from models.plans.appeal_intake import (
    IndicatorRef,
    IntakeContext,
    IntakePlan,
    NewAppeal,
    UnitRef,
    needs_committee,
    plan_intake,
)
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
from models.plans.limits import clamp_watermark, usable_watermark
from models.plans.monthly import IndicatorSnap, UnitSnap, WarningState, effective_observations
from models.plans.recompute import (
    ANNUAL,
    HALF_YEAR,
    CellState,
    LedgerKeyState,
    NegativeEventRow,
    RecomputeError,
    RecomputePlan,
    RecomputeSnapshot,
    ResultSet,
    RulingRef,
    StoredResult,
    appeal_outcome_digest,
    decision_reason,
    latest_rulings,
    plan_recompute,
)
from models.plans.records import BadRecord, quarantine_row
from models.rules import (
    MISSING,
    Direction,
    Level,
    Observation,
    Period,
    Ruling,
    RulingKind,
    WorkCalendar,
    YearRules,
    appeal_deadline,
    assess,
)
from tasks.bulk import bulk_insert
from tasks.delivery import queue_digests, send_window
from tasks.locks import category_lock, serialize
from tasks.monthly import (
    deadline_cutoff,
    indicator_spec,
    load_indicators,
    load_unavailable,
    load_year_rules,
)
from tasks.platform import PlatformClient
from tasks.report_tasks import load_annual_results, previous_notices
from tasks.runtime import database, work_calendar
from tasks.settings import get_settings

__all__ = [
    "AppealStateError",
    "AppealView",
    "IntakeOutcome",
    "NotFound",
    "RecomputeOutcome",
    "RulingRecord",
    "collect_appeals",
    "intake_appeals",
    "load_explain",
    "load_recompute_snapshot",
    "load_standing_rulings",
    "publish_year",
    "recompute_ruling",
    "record_committee_decision",
    "record_ruling",
]

ZERO = Decimal(0)
CENT = Decimal("0.01")
SOURCE = "appeals"
WATERMARK_PERIOD = "all"
INTAKE_LOCK = "appeal-intake"


APPEAL = columns_of(Appeal)
RULING = columns_of(RulingRow)
UNIT = columns_of(Unit)
IND = columns_of(Indicator)
MA = columns_of(MonthlyAssessment)
DED = columns_of(DeductionEntry)
WARN = columns_of(WarningEntry)
NEG = columns_of(NegativeListEntry)
RES = columns_of(ResultEntry)
MSG = columns_of(Message)
PROG = columns_of(ProgressRecord)
RUN = columns_of(CycleRun)


class AppealStateError(ValueError):
    """The appeal is not in a state that allows the step (e.g. already ruled)."""


class NotFound(LookupError):
    """A unit or indicator asked for does not exist (``what``: unit | indicator)."""

    def __init__(self, what: str, code: str, year: int | None = None) -> None:
        where = f" in {year}" if year is not None else ""
        super().__init__(f"{what} {code!r} does not exist{where}")
        self.what = what
        self.code = code
        self.year = year


def _insert_new(
    session: Session, model: type[SQLModel], rows: list[dict[str, Any]], *returning: str
) -> list[tuple[Any, ...]]:
    """INSERT ... ON CONFLICT DO NOTHING; the new rows' ``returning`` columns."""
    if not rows:
        return []
    table = table_of(model)
    dialect = session.connection().dialect.name
    base = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = base.on_conflict_do_nothing().returning(*(table.c[name] for name in returning))
    out: list[tuple[Any, ...]] = []
    for row in rows:  # one at a time: RETURNING of a skipped row is nothing
        out.extend(tuple(r) for r in session.execute(statement, row))
    return out


# ---------------------------------------------------------------------------- publish


def publish_year(session: Session, year: int, now: datetime) -> datetime:
    """Publish the year's annual results: from now on its ledgers accept only entries
    that come from a ruling (enforced by the database). Idempotent; returns the time."""
    row = session.get(AssessmentYear, year)
    if row is None:
        raise LookupError(f"year {year} is not in the catalog")
    if row.published_at is None:
        row.published_at = now
        session.add(row)
        session.flush()
    assert row.published_at is not None
    return row.published_at


# ----------------------------------------------------------------------------- intake


@dataclass
class IntakeOutcome:
    """What one intake run did (plain data, for the flow's artifact)."""

    records: int = 0
    registered: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(platform id, reason) of the appeals refused in this run."""
    duplicates: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    high_water: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "registered": len(self.registered),
            "refused": len(self.refused),
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "reasons": dict(self.reasons),
            "messages": dict(self.messages),
            "high_water": None if self.high_water is None else self.high_water.isoformat(),
        }


def load_watermark(session: Session) -> datetime | None:
    row = session.get(CollectionWatermark, (SOURCE, WATERMARK_PERIOD))
    return None if row is None else row.high_water


def _months_of(items: Iterable[Any]) -> set[str]:
    return {
        raw["period"]
        for raw in items
        if isinstance(raw, Mapping) and isinstance(raw.get("period"), str)
    }


def load_intake_context(
    session: Session, items: Sequence[Any], calendar: WorkCalendar, now: datetime | None = None
) -> IntakeContext:
    """Our units, the indicators of the years the appeals name, each year's rules and the
    delivery of the monthly-analysis messages the appeals are about."""
    units = {
        code: UnitRef(uid, category)
        for uid, code, category in session.execute(select(UNIT.id, UNIT.code, UNIT.category))
    }
    months = {m for m in _months_of(items) if len(m) == 7 and m[:4].isdigit()}
    years = {int(m[:4]) for m in months}
    indicators: dict[tuple[int, str], IndicatorRef] = {}
    rules: dict[int, YearRules] = {}
    for year in sorted(years):
        try:
            rules[year] = load_year_rules(session, year)
        except LookupError:
            continue
        for snap in load_indicators(session, year):
            count = snap.spec.direction is Direction.MILESTONE
            indicators[(year, snap.code)] = IndicatorRef(snap.id, snap.categories, count)
    delivered: dict[tuple[int, str], datetime] = {}
    if months:
        rows = session.execute(
            select(MSG.unit_id, MSG.period, func.max(MSG.delivered_at))
            .where(
                MSG.kind == "monthly_analysis",
                MSG.audience == "unit",
                MSG.period.in_(sorted(months)),
                MSG.delivered_at.is_not(None),
            )
            .group_by(MSG.unit_id, MSG.period)
        )
        for unit_id, period, at in rows:
            if unit_id is not None and at is not None:
                delivered[(unit_id, period)] = _aware(at)
    return IntakeContext(units, indicators, calendar, delivered, rules, now)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def save_intake(session: Session, plan: IntakePlan, now: datetime) -> IntakeOutcome:
    """Store the plan's appeals once each and its bad records once each."""
    outcome = IntakeOutcome(high_water=plan.high_water)
    new = _insert_new(
        session,
        Appeal,
        [_appeal_row(a, now) for a in plan.appeals],
        "platform_id",
    )
    created = {pid for (pid,) in new}
    for a in plan.appeals:
        if a.platform_id not in created:
            outcome.duplicates += 1
        elif a.refused:
            outcome.refused.append((a.platform_id, a.refusal_reason))
        else:
            outcome.registered.append(a.platform_id)
    quarantined = _insert_new(
        session, QuarantinedRecord, [_bad_row(b, now) for b in plan.bad], "id"
    )
    outcome.quarantined = len(quarantined)
    for b in plan.bad:
        outcome.reasons[b.reason] = outcome.reasons.get(b.reason, 0) + 1
    return outcome


def _appeal_row(a: NewAppeal, now: datetime) -> dict[str, Any]:
    return {
        "platform_id": a.platform_id,
        "unit_id": a.unit_id,
        "indicator_id": a.indicator_id,
        "period": a.period,
        "kind": a.kind,
        "claimed_value": a.claimed_value,
        "reason": a.reason,
        "filed_at": a.filed_at,
        "received_at": now,
        "status": a.status,
        "refusal_reason": a.refusal_reason,
    }


def _bad_row(b: BadRecord, now: datetime) -> dict[str, Any]:
    return quarantine_row(b, SOURCE, now)


def _advance_watermark(
    session: Session, high_water: datetime | None, records: int, now: datetime
) -> None:
    row = session.get(CollectionWatermark, (SOURCE, WATERMARK_PERIOD))
    if row is None:
        row = CollectionWatermark(source=SOURCE, period=WATERMARK_PERIOD)
    row.high_water = clamp_watermark(row.high_water, high_water, now)
    row.last_run_at = now
    row.records_seen += records
    session.add(row)


def queue_refusals(
    session: Session, slots: Iterable[tuple[int, str]], now: datetime, calendar: WorkCalendar
) -> dict[str, int]:
    """Tell each (unit, month) why its appeals were refused: one digest listing every
    refused appeal of the unit for the month (the same content is never sent twice)."""
    wanted = sorted(set(slots))
    if not wanted:
        return {}
    units = {u for u, _ in wanted}
    months = {m for _, m in wanted}
    rows = session.execute(
        select(
            APPEAL.unit_id,
            APPEAL.period,
            APPEAL.refusal_reason,
            IND.code,
            IND.name,
            UNIT.code,
            UNIT.name,
            UNIT.category,
            UNIT.on_platform,
        )
        .join(Indicator, IND.id == APPEAL.indicator_id)
        .join(Unit, UNIT.id == APPEAL.unit_id)
        .where(
            APPEAL.status == "refused",
            APPEAL.unit_id.in_(sorted(units)),
            APPEAL.period.in_(sorted(months)),
        )
        .order_by(APPEAL.id)
    )
    items: dict[tuple[int, str], list[AppealDecision]] = defaultdict(list)
    who: dict[int, UnitSnap] = {}
    for unit_id, period, why, ind_code, ind_name, code, name, category, on in rows:
        if (unit_id, period) not in wanted:
            continue
        who[unit_id] = UnitSnap(unit_id, code, name, category, bool(on))
        items[(unit_id, period)].append(AppealDecision(ind_code, ind_name, "refused", why))
    digests = [
        UnitDigest(
            unit_code=who[u].code,
            unit_name=who[u].name,
            kind="appeal_refused",
            period_key=m,
            items=tuple(decisions),
        )
        for (u, m), decisions in sorted(items.items())
    ]
    return _queue(session, digests, now, calendar)


def _queue(
    session: Session, digests: Sequence[UnitDigest], now: datetime, calendar: WorkCalendar
) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    by_year: dict[int, list[UnitDigest]] = defaultdict(list)
    for d in digests:
        by_year[int(d.period_key[:4])].append(d)
    for year, group in sorted(by_year.items()):
        try:
            rules = load_year_rules(session, year)
        except LookupError:
            rules = YearRules()
        for p in queue_digests(session, group, now=now, send_at_fn=send_window(calendar, rules)):
            counts[str(p.action)] += 1
    return dict(counts)


def intake_appeals(
    engine: Engine, items: Sequence[Any], now: datetime, calendar: WorkCalendar
) -> IntakeOutcome:
    """Check, store and answer a batch of raw appeals in one transaction."""
    with session_scope(engine) as session:
        serialize(session, INTAKE_LOCK)
        context = load_intake_context(session, items, calendar, now)
        plan = plan_intake(items, context)
        outcome = save_intake(session, plan, now)
        outcome.records = len(items)
        session.flush()
        refused_ids = {pid for pid, _ in outcome.refused}
        slots = {(a.unit_id, a.period) for a in plan.refused if a.platform_id in refused_ids}
        outcome.messages = queue_refusals(session, slots, now, calendar)
        _advance_watermark(session, plan.high_water, len(items), now)
    return outcome


async def fetch_appeals(client: PlatformClient, since: datetime | None) -> list[Any]:
    """Every appeal filed at or after ``since`` (the boundary appeals come again)."""
    return [item async for page in client.iter_appeals(since) for item in page.items]


async def collect_appeals(
    engine: Engine, client: PlatformClient, now: datetime, calendar: WorkCalendar
) -> IntakeOutcome:
    """Read the platform's appeals from the watermark and take them in."""

    def since() -> datetime | None:
        with session_scope(engine) as session:
            return usable_watermark(load_watermark(session), now)

    items = await fetch_appeals(client, await asyncio.to_thread(since))
    return await asyncio.to_thread(intake_appeals, engine, items, now, calendar)


# ---------------------------------------------------------------------------- rulings


@dataclass(frozen=True)
class AppealView:
    """An appeal with its unit and indicator, as the flows and artifacts show it."""

    id: int
    platform_id: str
    unit_id: int
    unit_code: str
    unit_name: str
    category: str
    indicator_id: int
    indicator_code: str
    indicator_name: str
    period: str
    kind: str
    status: str
    reason: str
    claimed_value: Decimal | None


@dataclass(frozen=True)
class RulingRecord:
    """A ruling as recorded: ``effective`` at once, or waiting for the committee."""

    ruling_id: int
    appeal: AppealView
    kind: str
    effective: bool
    appeal_status: str
    reused: bool = False


def load_appeal(session: Session, appeal_id: int) -> AppealView:
    row = session.execute(
        select(
            APPEAL.id,
            APPEAL.platform_id,
            APPEAL.unit_id,
            UNIT.code,
            UNIT.name,
            UNIT.category,
            APPEAL.indicator_id,
            IND.code,
            IND.name,
            APPEAL.period,
            APPEAL.kind,
            APPEAL.status,
            APPEAL.reason,
            APPEAL.claimed_value,
        )
        .join(Unit, UNIT.id == APPEAL.unit_id)
        .join(Indicator, IND.id == APPEAL.indicator_id)
        .where(APPEAL.id == appeal_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"appeal {appeal_id} does not exist")
    return AppealView(*row)


def _same_ruling(
    row: RulingRow, ruling: Ruling, reason: str, document_ref: str, ruled_by: str
) -> bool:
    def dec(v: Decimal | None) -> Decimal | None:
        return None if v is None else Decimal(v).normalize()

    return (
        row.kind == ruling.kind.value
        and dec(row.corrected_value) == dec(ruling.corrected_value)
        and dec(row.share) == dec(ruling.share)
        and row.reason == reason
        and row.document_ref == document_ref
        and row.ruled_by == ruled_by
    )


def record_ruling(
    session: Session,
    appeal_id: int,
    ruling: Ruling,
    *,
    reason: str,
    document_ref: str,
    ruled_by: str,
    now: datetime,
) -> RulingRecord:
    """Record the office's ruling on a registered appeal.

    data_error / other: the ruling takes effect now and the appeal is ``ruled``.
    force_majeure / innovation: the ruling is the expert panel's recommendation
    (``ExpertRecommendation``); it waits for the committee (``awaiting_committee``).
    A case already waiting keeps its open recommendation when the same one is given
    again, or gets the new recommendation in its place.
    """
    category = session.execute(
        select(UNIT.category).join(Appeal, APPEAL.unit_id == UNIT.id).where(APPEAL.id == appeal_id)
    ).scalar_one_or_none()
    if category is None:
        raise LookupError(f"appeal {appeal_id} does not exist")
    serialize(session, category_lock(category))
    view = load_appeal(session, appeal_id)
    appeal = session.get(Appeal, appeal_id, populate_existing=True)
    assert appeal is not None
    if view.status == "refused":
        raise AppealStateError(
            f"appeal {appeal_id} ({view.platform_id}) was refused at intake: "
            f"{appeal.refusal_reason}"
        )
    if view.status == "ruled":
        last = session.execute(
            select(func.max(RULING.id)).where(
                RULING.appeal_id == appeal_id, RULING.effective_at.is_not(None)
            )
        ).scalar_one_or_none()
        raise AppealStateError(f"appeal {appeal_id} was already ruled (ruling {last})")
    committee = needs_committee(view.kind)
    if committee and view.status == "awaiting_committee":
        open_row = session.execute(
            select(RulingRow)
            .where(RULING.appeal_id == appeal_id, RULING.effective_at.is_(None))
            .order_by(RULING.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        decided = (
            open_row is not None
            and session.execute(
                select(func.count()).where(columns_of(CommitteeDecision).ruling_id == open_row.id)
            ).scalar_one()
            > 0
        )
        if (
            open_row is not None
            and not decided
            and _same_ruling(open_row, ruling, reason, document_ref, ruled_by)
        ):
            assert open_row.id is not None
            return RulingRecord(open_row.id, view, open_row.kind, False, view.status, True)
    row = RulingRow(
        appeal_id=appeal_id,
        kind=ruling.kind.value,
        corrected_value=ruling.corrected_value,
        share=ruling.share,
        reason=reason[:2000],
        document_ref=document_ref[:200],
        ruled_by=ruled_by[:200],
        ruled_at=now,
        effective_at=None if committee else now,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    if committee:
        session.add(
            ExpertRecommendation(
                appeal_id=appeal_id,
                ruling_id=row.id,
                recommendation=f"建议{ruling.kind.label}：{reason}"[:2000],
                experts=ruled_by[:500],
                recommended_at=now,
            )
        )
        appeal.status = "awaiting_committee"
    else:
        appeal.status = "ruled"
    session.add(appeal)
    session.flush()
    return RulingRecord(row.id, view, row.kind, not committee, appeal.status)


def record_committee_decision(
    session: Session,
    ruling_id: int,
    *,
    approved: bool,
    document_ref: str,
    note: str,
    now: datetime,
) -> RulingRecord:
    """The committee's decision on a recommended ruling: approved, it takes effect now
    and the appeal is ``ruled``; not approved, the appeal goes back to the office
    (``registered``) and the recommendation never takes effect."""
    row = session.get(RulingRow, ruling_id)
    if row is None:
        raise LookupError(f"ruling {ruling_id} does not exist")
    view = load_appeal(session, row.appeal_id)
    serialize(session, category_lock(view.category))
    row = session.get(RulingRow, ruling_id, populate_existing=True)
    appeal = session.get(Appeal, view.id, populate_existing=True)
    assert row is not None and appeal is not None
    if row.effective_at is not None:
        return RulingRecord(ruling_id, view, row.kind, True, appeal.status, True)
    if appeal.status != "awaiting_committee":
        raise AppealStateError(f"appeal {view.id} is {appeal.status}, not awaiting the committee")
    session.add(
        CommitteeDecision(
            appeal_id=view.id,
            ruling_id=ruling_id,
            approved=approved,
            document_ref=document_ref[:200],
            note=note[:2000],
            decided_at=now,
        )
    )
    if approved:
        row.effective_at = now
        appeal.status = "ruled"
        session.add(row)
    else:
        appeal.status = "registered"
    session.add(appeal)
    session.flush()
    return RulingRecord(ruling_id, view, row.kind, approved, appeal.status)


# ---------------------------------------------------------------------- recomputation


def _unit_snap(session: Session, unit_id: int) -> UnitSnap:
    row = session.execute(
        select(UNIT.id, UNIT.code, UNIT.name, UNIT.category, UNIT.on_platform).where(
            UNIT.id == unit_id
        )
    ).one()
    return UnitSnap(row[0], row[1], row[2], row[3], bool(row[4]))


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _pts(value: Any) -> Decimal:
    return Decimal(value).quantize(CENT)


def _core_ruling(kind: str, corrected: Any, share: Any) -> Ruling:
    return Ruling(RulingKind(kind), _dec(corrected), _dec(share))


def load_unit_rulings(session: Session, unit_id: int, year: int) -> list[RulingRef]:
    """Every effective ruling on the unit's cells in ``year``."""
    rows = session.execute(
        select(
            RULING.id,
            RULING.appeal_id,
            APPEAL.indicator_id,
            APPEAL.period,
            RULING.kind,
            RULING.corrected_value,
            RULING.share,
            RULING.effective_at,
            RULING.reason,
            RULING.document_ref,
        )
        .join(Appeal, APPEAL.id == RULING.appeal_id)
        .where(
            APPEAL.unit_id == unit_id,
            APPEAL.period.like(f"{year:04d}-%"),
            RULING.effective_at.is_not(None),
        )
        .order_by(RULING.id)
    )
    return [
        RulingRef(rid, aid, iid, period, _core_ruling(kind, cv, sh), _aware(at), reason, doc)
        for rid, aid, iid, period, kind, cv, sh, at, reason, doc in rows
    ]


def load_standing_rulings(
    session: Session, month: Period, units: tuple[int, int] | None = None
) -> dict[tuple[int, int], Ruling]:
    """The month's standing rulings by (unit, indicator), for
    ``models.plans.recompute.plan_monthly_analysis_with_rulings`` (a monthly run that
    keeps the rulings made on its month)."""
    query = (
        select(
            RULING.id,
            RULING.appeal_id,
            APPEAL.unit_id,
            APPEAL.indicator_id,
            APPEAL.period,
            RULING.kind,
            RULING.corrected_value,
            RULING.share,
            RULING.effective_at,
        )
        .join(Appeal, APPEAL.id == RULING.appeal_id)
        .where(APPEAL.period == month.key, RULING.effective_at.is_not(None))
    )
    if units is not None:
        query = query.where(APPEAL.unit_id.between(units[0], units[1]))
    refs: dict[int, list[RulingRef]] = defaultdict(list)
    for rid, aid, uid, iid, period, kind, cv, sh, at in session.execute(query):
        refs[uid].append(RulingRef(rid, aid, iid, period, _core_ruling(kind, cv, sh), _aware(at)))
    out: dict[tuple[int, int], Ruling] = {}
    for uid, unit_refs in refs.items():
        for (iid, _), ref in latest_rulings(unit_refs).items():
            out[(uid, iid)] = ref.ruling
    return out


def _raw_observation(
    session: Session,
    unit: UnitSnap,
    indicator: IndicatorSnap,
    month: Period,
    calendar: WorkCalendar,
    rules: YearRules,
) -> Observation:
    """The platform's observation of one cell, chosen as the monthly analysis chooses it."""
    from models.plans.monthly import RecordVersion

    rows = session.execute(
        select(
            PROG.unit_id,
            PROG.indicator_id,
            PROG.record_id,
            PROG.value,
            PROG.status,
            PROG.updated_at,
            PROG.reported_at,
        ).where(
            PROG.period == month.key, PROG.unit_id == unit.id, PROG.indicator_id == indicator.id
        )
    )
    versions = [RecordVersion(*row) for row in rows]
    down, unavailable = load_unavailable(session, month)
    observations = effective_observations(
        [unit],
        [indicator],
        versions,
        deadline_cutoff(month, calendar, rules),
        unavailable,
        platform_down=down,
    )
    return observations.get((unit.id, indicator.id), MISSING)


def _cells(
    session: Session, unit_id: int, periods: Sequence[str]
) -> dict[tuple[int, str], CellState]:
    rows = session.execute(
        select(
            MA.indicator_id,
            MA.period,
            MA.level,
            MA.expected,
            MA.actual,
            MA.completion,
            MA.pre_deduction,
        ).where(MA.unit_id == unit_id, MA.period.in_(list(periods)))
    )
    return {
        (i, p): CellState(level, _dec(e), _dec(a), _dec(c), _pts(pre))
        for i, p, level, e, a, c, pre in rows
    }


def _months(year: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]


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
    unit = _unit_snap(session, appeal.unit_id)
    indicators = [i for i in load_indicators(session, year) if unit.category in i.categories]
    by_id = {i.id: i for i in indicators}
    ref = RulingRef(
        ruling_id,
        appeal.id or 0,
        appeal.indicator_id,
        appeal.period,
        _core_ruling(row.kind, row.corrected_value, row.share),
        _aware(row.effective_at),
        row.reason,
        row.document_ref,
    )
    rulings = load_unit_rulings(session, unit.id, year)
    cells = _cells(session, unit.id, _months(year))
    standing = latest_rulings(rulings)
    raw: dict[tuple[int, str], Observation] = {}
    for key in standing:
        indicator = by_id.get(key[0])
        if indicator is not None:
            raw[key] = _raw_observation(
                session, unit, indicator, Period.parse(key[1]), calendar, rules
            )
    ledger = {
        i: LedgerKeyState(_pts(total), last)
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
    before = _cells(session, unit.id, _months(year - 1))
    red_before: dict[str, bool] = {}
    for (_, period), cell in before.items():
        if cell.assessed:
            red_before[period] = red_before.get(period, False) or cell.is_red
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
            r[1]: StoredResult(
                r[0], r[1], r[2], _pts(r[3]), _pts(r[4]), _pts(r[5]), r[6], r[7], r[8]
            )
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
        (
            "year",
            "period",
            "unit_id",
            "indicator_id",
            "kind",
            "stage",
            "amount",
            "level",
            "completion",
            "cycle_run_id",
            "corrects_id",
            "ruling_id",
            "created_at",
            "note",
        ),
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
                now,
                f"申诉复查裁定 {ruling_id}：扣分由 {d.previous_sum} 调整为 {d.new_sum}"[:500],
            )
            for d in plan.deductions
        ),
    )
    bulk_insert(
        conn,
        table_of(WarningEntry),
        (
            "period",
            "unit_id",
            "indicator_id",
            "level",
            "completion",
            "expected",
            "actual",
            "cycle_run_id",
            "corrects_id",
            "ruling_id",
            "created_at",
        ),
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
                now,
            )
            for w in plan.warnings
        ),
    )
    bulk_insert(
        conn,
        table_of(NegativeListEntry),
        ("period", "unit_id", "event", "cycle_run_id", "ruling_id", "created_at"),
        ((e.month, plan.unit_id, e.event, None, ruling_id, now) for e in plan.negative_events),
    )
    bulk_insert(
        conn,
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
                ruling_id,
                now,
            )
            for r in plan.results
        ),
    )


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


def queue_appeal_digests(
    session: Session, snapshot: RecomputeSnapshot, now: datetime, calendar: WorkCalendar
) -> dict[str, int]:
    """Tell the unit its appeal outcomes for the month, and every unit whose annual result
    this ruling changed (the ruled unit on any change, the others on a rank or grade
    change) its corrected result. Built from what is booked, so a rerun sends nothing."""
    ruling = snapshot.ruling
    unit = snapshot.unit
    month = ruling.month
    by_id = {i.id: i for i in snapshot.indicators}
    # 1. the unit's appeal outcomes for the month
    refs = [r for r in load_unit_rulings(session, unit.id, int(month[:4])) if r.month == month]
    latest_per_appeal: dict[int, RulingRef] = {}
    for r in sorted(refs, key=lambda r: (r.effective_at, r.id)):
        latest_per_appeal[r.appeal_id] = r
    cells = _cells(session, unit.id, [month])
    decisions = []
    for _appeal_id, r in sorted(latest_per_appeal.items()):
        indicator = by_id.get(r.indicator_id)
        if indicator is None:
            continue
        before, after = _ledger_change(session, unit.id, r.indicator_id, r.id, int(month[:4]))
        decisions.append(
            AppealDecision(
                indicator_code=indicator.code,
                indicator_name=indicator.name,
                outcome=r.ruling.kind.value,
                reason=decision_reason(
                    r.ruling,
                    r.reason,
                    r.document_ref,
                    month,
                    cells.get((r.indicator_id, month)),
                    indicator.unit_of_measure,
                ),
                deduction_before=before,
                deduction_after=after,
            )
        )
    counts = _queue(
        session,
        [appeal_outcome_digest(unit, month, decisions)] if decisions else [],
        now,
        calendar,
    )
    # 2. corrected annual results
    counts.update(_annual_notices(session, snapshot, now, calendar))
    return counts


def _ledger_change(
    session: Session, unit_id: int, indicator_id: int, ruling_id: int, year: int
) -> tuple[Decimal | None, Decimal | None]:
    """The key's deduction before and after the ruling's entries (None: it booked none)."""
    rows = session.execute(
        select(DED.id, DED.amount, DED.ruling_id)
        .where(DED.unit_id == unit_id, DED.indicator_id == indicator_id, DED.year == year)
        .order_by(DED.id)
    ).all()
    mine = [r for r in rows if r[2] == ruling_id]
    if not mine:
        return None, None
    first = mine[0][0]
    before = sum((Decimal(a) for i, a, _ in rows if i < first), ZERO).quantize(CENT)
    after = before + sum((Decimal(a) for _, a, _ in mine), ZERO)
    return before, after.quantize(CENT)


def _annual_notices(
    session: Session, snapshot: RecomputeSnapshot, now: datetime, calendar: WorkCalendar
) -> dict[str, int]:
    """Re-queue the annual result notices of the unit's category from the latest results,
    as the annual assessment builds them (``models.plans.annual.result_notice_digests``):
    a unit whose result changed (the ruled unit, any unit whose rank or grade moved) gets
    a corrected notice with a fresh appeal window from its sending; the others' notices
    are rebuilt unchanged, so nothing is sent to them. Reads the category only."""
    year = snapshot.year
    if not any(rs.cycle == ANNUAL for rs in snapshot.results):
        return {}
    results = load_annual_results(session, year, snapshot.unit.category)
    if not results:
        return {}
    rules = load_year_rules(session, year)
    send_at = send_window(calendar, rules)
    ends = appeal_deadline(send_at(now), calendar, rules).date()
    previous = previous_notices(session, year, calendar, rules, snapshot.unit.category)
    digests = result_notice_digests(results, year, ends, previous)
    counts: dict[str, int] = defaultdict(int)
    for p in queue_digests(session, digests, now=now, send_at_fn=send_at):
        counts[f"annual_{p.action}"] += 1
    return dict(counts)


# ---------------------------------------------------------------------------- explain


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
            _dec(value),
            status,
            _aware(updated),
            None if reported is None else _aware(reported),
        )
        for rid, value, status, updated, reported in session.execute(
            select(PROG.record_id, PROG.value, PROG.status, PROG.updated_at, PROG.reported_at)
            .where(
                PROG.period == month.key, PROG.unit_id == unit.id, PROG.indicator_id == indicator.id
            )
            .order_by(PROG.updated_at, PROG.record_id)
        )
    )
    observation = _raw_observation(session, unit, indicator, month, calendar, rules)
    if observation is MISSING:
        observed = "missing"
    elif isinstance(observation, Decimal | int | float | str):
        observed = "value"
    else:
        observed = "unavailable"
    platform_state = CellState.of(
        assess(indicator.spec, indicator.weight, month.index, observation, rules)
    )
    stored = _cells(session, unit.id, [month.key]).get((indicator.id, month.key))
    appeals = [
        AppealFact(
            a.id or 0,
            a.platform_id,
            a.kind,
            a.status,
            _aware(a.filed_at),
            a.reason,
            _dec(a.claimed_value),
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
                CommitteeFact(c.approved, c.document_ref, c.note, _aware(c.decided_at))
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
                    ruled_at=_aware(r.ruled_at),
                    effective_at=None if r.effective_at is None else _aware(r.effective_at),
                    corrected_value=_dec(r.corrected_value),
                    share=_dec(r.share),
                    recommendation=None if rec is None else rec.recommendation,
                    experts="" if rec is None else rec.experts,
                    committee=committee,
                )
            )
    entries = tuple(
        EntryFact(i, p, k, st, _pts(am), lv, _dec(c), cor, rul, _aware(at), note)
        for i, p, k, st, am, lv, c, cor, rul, at, note in session.execute(
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
            )
            .where(DED.unit_id == unit.id, DED.indicator_id == indicator.id, DED.year == year)
            .order_by(DED.id)
        )
    )
    warnings = tuple(
        WarningFact(i, lv, _dec(c), cor, rul, _aware(at))
        for i, lv, c, cor, rul, at in session.execute(
            select(
                WARN.id,
                WARN.level,
                WARN.completion,
                WARN.corrects_id,
                WARN.ruling_id,
                WARN.created_at,
            )
            .where(
                WARN.unit_id == unit.id, WARN.indicator_id == indicator.id, WARN.period == month.key
            )
            .order_by(WARN.id)
        )
    )
    negative = tuple(
        NegativeFact(i, p, e, rul)
        for i, p, e, rul in session.execute(
            select(NEG.id, NEG.period, NEG.event, NEG.ruling_id)
            .where(NEG.unit_id == unit.id, NEG.period.like(f"{year:04d}-%"))
            .order_by(NEG.id)
        )
    )
    results = tuple(
        ResultFact(i, cy, p, _pts(s), _pts(d), _pts(w), rk, g, rul, _aware(at))
        for i, cy, p, s, d, w, rk, g, rul, at in session.execute(
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
            )
            .where(RES.unit_id == unit.id, RES.period.like(f"{year:04d}%"))
            .order_by(RES.id)
        )
    )
    weights = [i.weight for i in load_indicators(session, year) if unit.category in i.categories]
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
        target=_dec(ind_row.target),
        baseline=_dec(ind_row.baseline),
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
        unit_deductions=ZERO if total is None else _pts(total),
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------ prefect tasks


@task(name="collect-appeals", cache_policy=NO_CACHE)
def collect_appeals_task(now: datetime) -> IntakeOutcome:
    """Read the platform's appeals since the watermark and take them in."""
    settings = get_settings()

    async def run() -> IntakeOutcome:
        async with httpx.AsyncClient(base_url=settings.platform_url, timeout=30) as http:
            client = PlatformClient(http, token=settings.platform_token.get_secret_value())
            return await collect_appeals(database(), client, now, work_calendar())

    return asyncio.run(run())


@task(name="record-ruling", cache_policy=NO_CACHE)
def record_ruling_task(
    appeal_id: int,
    kind: str,
    corrected_value: Decimal | None,
    share: Decimal | None,
    reason: str,
    document_ref: str,
    ruled_by: str,
    now: datetime,
) -> RulingRecord:
    ruling = Ruling(RulingKind(kind), corrected_value, share)
    with session_scope(database()) as session:
        return record_ruling(
            session,
            appeal_id,
            ruling,
            reason=reason,
            document_ref=document_ref,
            ruled_by=ruled_by,
            now=now,
        )


@task(name="record-committee-decision", cache_policy=NO_CACHE)
def record_committee_task(
    ruling_id: int, approved: bool, document_ref: str, note: str, now: datetime
) -> RulingRecord:
    with session_scope(database()) as session:
        return record_committee_decision(
            session, ruling_id, approved=approved, document_ref=document_ref, note=note, now=now
        )


@task(name="recompute-after-ruling", cache_policy=NO_CACHE)
def recompute_task(ruling_id: int, now: datetime) -> RecomputeOutcome:
    """Lock the category, gather, plan, book and tell: one transaction."""
    return recompute_ruling(database(), ruling_id, now, work_calendar())


@task(name="explain-cell", cache_policy=NO_CACHE)
def explain_task(unit_code: str, indicator_code: str, period: str) -> ExplainFacts:
    with session_scope(database()) as session:
        return load_explain(session, unit_code, indicator_code, period, work_calendar())


@task(name="publish-markdown", cache_policy=NO_CACHE)
def publish_markdown_task(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=key, markdown=markdown, description=description)
