"""Taking in the platform's appeals (``collect_appeals``, task ``collect_appeals_task``).

Reads the platform's appeals from the watermark (``collection_watermark`` source
``appeals``, period ``all``) and, in one transaction, checks them with
``models.plans.appeal_intake``, stores them once (unique ``platform_id``), sets bad
records aside (``quarantined_record`` source ``appeals``), tells each unit with a newly
refused appeal why (digest ``appeal_refused``) and advances the watermark.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from models.messages import AppealDecision, UnitDigest
from models.persistence.database import session_scope
from models.persistence.tables import (
    Appeal,
    CollectionWatermark,
    Indicator,
    QuarantinedRecord,
    Unit,
    table_of,
)
from models.plans.appeal_intake import (
    IndicatorRef,
    IntakeContext,
    IntakePlan,
    NewAppeal,
    ResultMessage,
    UnitRef,
    plan_intake,
    result_deliveries,
)
from models.plans.limits import clamp_watermark, usable_watermark
from models.plans.monthly import UnitSnap
from models.plans.records import BadRecord, quarantine_row
from models.rules import AppealStatus, Direction, WorkCalendar, YearRules
from tasks.appeals.notices import queue_by_year
from tasks.appeals.reads import APPEAL, IND, MSG, UNIT, aware
from tasks.locks import serialize
from tasks.monthly import load_indicators
from tasks.platform import PlatformClient
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules

__all__ = [
    "IntakeOutcome",
    "collect_appeals",
    "collect_appeals_task",
    "intake_appeals",
    "load_intake_context",
    "load_watermark",
    "queue_refusals",
    "save_intake",
]

SOURCE = "appeals"
WATERMARK_PERIOD = "all"
INTAKE_LOCK = "appeal-intake"


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
    awaiting: frozenset[tuple[int, str]] = frozenset()
    if months:
        delivered, awaiting = result_deliveries(load_result_messages(session, min(months)))
    return IntakeContext(units, indicators, calendar, delivered, rules, now, awaiting)


def load_result_messages(session: Session, first_month: str) -> list[ResultMessage]:
    """Monthly-analysis messages to units from ``first_month`` on (later months included:
    an earlier month's message may have been merged into one of theirs)."""
    rows = session.execute(
        select(
            MSG.id, MSG.unit_id, MSG.period, MSG.status, MSG.delivered_at, MSG.merged_into_id
        ).where(
            MSG.kind == "monthly_analysis",
            MSG.audience == "unit",
            MSG.period >= first_month,
            MSG.unit_id.is_not(None),
        )
    )
    return [
        ResultMessage(i, u, p, s, None if at is None else aware(at), into)
        for i, u, p, s, at, into in rows
    ]


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
            APPEAL.status == AppealStatus.REFUSED.value,
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
    return queue_by_year(session, digests, now, calendar)


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


@task(name="collect-appeals", cache_policy=NO_CACHE)
def collect_appeals_task(runtime: Runtime, now: datetime) -> IntakeOutcome:
    """Read the platform's appeals since the watermark and take them in."""
    settings = runtime.settings

    async def run() -> IntakeOutcome:
        async with httpx.AsyncClient(base_url=settings.platform_url, timeout=30) as http:
            client = PlatformClient(http, token=settings.platform_token.get_secret_value())
            return await collect_appeals(runtime.engine, client, now, runtime.calendar)

    return asyncio.run(run())
