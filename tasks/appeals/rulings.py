"""The office's rulings and the committee's decisions (rulebook section 7).

A ruling takes effect at once, or, for force majeure and innovation appeals, once the
committee approves the expert panel's recommendation. Which status may follow which is
the core's rule (``models.rules.appeals``); this module locks the category, reads the
appeal, asks the core for the next status and books the ruling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import func, select
from sqlmodel import Session

from models.errors import NotFoundError
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
from models.plans.committee import parse_appeal_ref
from models.rules import (
    AppealStateError,
    AppealStatus,
    Ruling,
    RulingKind,
    after_committee,
    after_ruling,
    may_be_ruled,
    needs_committee,
    waits_for_committee,
)
from tasks.appeals.reads import APPEAL, IND, RULING, UNIT
from tasks.locks import category_lock, serialize
from tasks.runtime import Runtime

__all__ = [
    "AppealView",
    "RulingRecord",
    "find_appeal_id",
    "find_appeal_task",
    "load_appeal",
    "record_committee_decision",
    "record_committee_task",
    "record_ruling",
    "record_ruling_task",
]


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


def find_appeal_id(session: Session, ref: str | int) -> int:
    """The internal id of the appeal written as its platform id (ap-202610-01) or internal id."""
    parsed = parse_appeal_ref(ref)
    if parsed.internal_id is not None:
        found = session.execute(
            select(APPEAL.id).where(APPEAL.id == parsed.internal_id)
        ).scalar_one_or_none()
    else:
        found = session.execute(
            select(APPEAL.id).where(APPEAL.platform_id == parsed.platform_id)
        ).scalar_one_or_none()
    if found is None:
        raise NotFoundError(f"没有编号为 {parsed} 的申诉：请核对平台申诉编号或内部编号")
    return int(found)


@task(name="find-appeal", cache_policy=NO_CACHE)
def find_appeal_task(runtime: Runtime, ref: str) -> int:
    with session_scope(runtime.engine) as session:
        return find_appeal_id(session, ref)


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
    if view.status == AppealStatus.REFUSED:
        raise AppealStateError(
            f"appeal {appeal_id} ({view.platform_id}) was refused at intake: "
            f"{appeal.refusal_reason}"
        )
    if not may_be_ruled(view.status):
        last = session.execute(
            select(func.max(RULING.id)).where(
                RULING.appeal_id == appeal_id, RULING.effective_at.is_not(None)
            )
        ).scalar_one_or_none()
        raise AppealStateError(f"appeal {appeal_id} was already ruled (ruling {last})")
    status = after_ruling(view.status, view.kind)
    committee = needs_committee(view.kind)
    if waits_for_committee(view.status, view.kind):
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
    appeal.status = status.value
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
    try:
        status = after_committee(appeal.status, approved)
    except AppealStateError:
        raise AppealStateError(
            f"appeal {view.id} is {appeal.status}, not awaiting the committee"
        ) from None
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
        session.add(row)
    appeal.status = status.value
    session.add(appeal)
    session.flush()
    return RulingRecord(ruling_id, view, row.kind, approved, appeal.status)


@task(name="record-ruling", cache_policy=NO_CACHE)
def record_ruling_task(
    runtime: Runtime,
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
    with session_scope(runtime.engine) as session:
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
    runtime: Runtime, ruling_id: int, approved: bool, document_ref: str, note: str, now: datetime
) -> RulingRecord:
    with session_scope(runtime.engine) as session:
        return record_committee_decision(
            session, ruling_id, approved=approved, document_ref=document_ref, note=note, now=now
        )
