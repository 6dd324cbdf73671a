"""What the appeal steps read alike: a unit and its cells, its rulings, a cell's raw
observation (chosen as the monthly analysis chooses it), and the month's standing
rulings a monthly run keeps (``load_standing_rulings``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from models.persistence.tables import (
    Appeal,
    CommitteeDecision,
    CycleRun,
    DeductionEntry,
    Indicator,
    Message,
    MonthlyAssessment,
    NegativeListEntry,
    ProgressRecord,
    ResultEntry,
    Unit,
    WarningEntry,
    columns_of,
)
from models.persistence.tables import Ruling as RulingRow
from models.plans.monthly import IndicatorSnap, RecordVersion, UnitSnap, effective_observations
from models.plans.recompute import CellState, RulingRef, latest_rulings
from models.rules import (
    MISSING,
    Observation,
    Period,
    Ruling,
    RulingKind,
    WorkCalendar,
    YearRules,
    deadline_cutoff,
)
from tasks.monthly import load_unavailable

__all__ = [
    "load_standing_rulings",
    "load_unit_rulings",
]

ZERO = Decimal(0)
CENT = Decimal("0.01")


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
COMMITTEE = columns_of(CommitteeDecision)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def unit_snap(session: Session, unit_id: int) -> UnitSnap:
    row = session.execute(
        select(UNIT.id, UNIT.code, UNIT.name, UNIT.category, UNIT.on_platform).where(
            UNIT.id == unit_id
        )
    ).one()
    return UnitSnap(row[0], row[1], row[2], row[3], bool(row[4]))


def dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def pts(value: Any) -> Decimal:
    return Decimal(value).quantize(CENT)


def core_ruling(kind: str, corrected: Any, share: Any) -> Ruling:

    return Ruling(RulingKind(kind), dec(corrected), dec(share))


def committee_documents(session: Session, ruling_ids: Sequence[int]) -> dict[int, str]:
    """Ruling id → the document of the committee decision that approved it (a ruling on
    a force majeure or innovation appeal takes effect by that decision, so the unit is
    told the committee's document, not the expert panel's)."""
    if not ruling_ids:
        return {}
    rows = session.execute(
        select(COMMITTEE.ruling_id, COMMITTEE.document_ref)
        .where(COMMITTEE.ruling_id.in_(list(ruling_ids)), COMMITTEE.approved.is_(True))
        .order_by(COMMITTEE.id)
    ).all()
    return {int(rid): doc for rid, doc in rows if doc}


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
    found = rows.all()
    by_committee = committee_documents(session, [r[0] for r in found])
    return [
        RulingRef(
            rid,
            aid,
            iid,
            period,
            core_ruling(kind, cv, sh),
            aware(at),
            reason,
            by_committee.get(rid, doc),
        )
        for rid, aid, iid, period, kind, cv, sh, at, reason, doc in found
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
        refs[uid].append(RulingRef(rid, aid, iid, period, core_ruling(kind, cv, sh), aware(at)))
    out: dict[tuple[int, int], Ruling] = {}
    for uid, unit_refs in refs.items():
        for (iid, _), ref in latest_rulings(unit_refs).items():
            out[(uid, iid)] = ref.ruling
    return out


def raw_observation(
    session: Session,
    unit: UnitSnap,
    indicator: IndicatorSnap,
    month: Period,
    calendar: WorkCalendar,
    rules: YearRules,
) -> Observation:
    """The platform's observation of one cell, chosen as the monthly analysis chooses it."""
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


def load_cells(
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
        (i, p): CellState(level, dec(e), dec(a), dec(c), pts(pre))
        for i, p, level, e, a, c, pre in rows
    }


def year_months(year: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]
