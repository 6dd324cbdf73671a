"""Sharing with supervisors in the database: exports, ``ShareRecord`` rows, change notices.

``export_share`` builds a recipient's export for a month (``models.plans.sharing``),
records it, and works out the change notices the recipient is owed (corrections of
lists it received, units its previous list had and the new one has not), recording
those too so that each removal is notified once. ``pending_changes`` does the same
for corrections alone (``assess share changes``). See ``models.plans.sharing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from models.persistence.tables import (
    Indicator,
    MonthlyAssessment,
    NegativeListEntry,
    ProblemClosure,
    ProblemEntry,
    ShareRecord,
    Unit,
    columns_of,
)
from models.plans.onsite import RED_LEVELS
from models.plans.sharing import (
    CHANGE_NOTICE,
    NEGATIVE_LIST,
    OPEN_PROBLEMS,
    ListedUnit,
    NegativeEvent,
    OpenProblem,
    Removal,
    SharedList,
    check_recipient,
    content_hash,
    corrections,
    is_repeat,
    negative_list_as_of,
    notice_groups,
    previous_export,
    removed_since,
    share_content,
    share_sheets,
)
from models.rules import Period, to_shanghai

UNIT = columns_of(Unit)
NEG = columns_of(NegativeListEntry)
MA = columns_of(MonthlyAssessment)
IND = columns_of(Indicator)
PROB = columns_of(ProblemEntry)
CLOSE = columns_of(ProblemClosure)
SHARE = columns_of(ShareRecord)


def load_negative_events(session: Session) -> list[NegativeEvent]:
    rows = session.execute(
        select(NEG.id, UNIT.code, NEG.period, NEG.event, NEG.ruling_id, NEG.created_at)
        .join(Unit, UNIT.id == NEG.unit_id)
        .order_by(NEG.id)
    )
    return [NegativeEvent(*row) for row in rows]


def unit_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(UNIT.code, UNIT.name)).all())


def load_listed_units(session: Session, month: str) -> list[ListedUnit]:
    """The negative list as of ``month``, with each unit's red or missing indicators then."""
    on = negative_list_as_of(load_negative_events(session), month)
    if not on:
        return []
    units = {
        code: (name, category)
        for code, name, category in session.execute(
            select(UNIT.code, UNIT.name, UNIT.category).where(UNIT.code.in_(list(on)))
        )
    }
    red: dict[str, list[str]] = {}
    for code, name in session.execute(
        select(UNIT.code, IND.name)
        .join(MonthlyAssessment, MA.unit_id == UNIT.id)
        .join(Indicator, IND.id == MA.indicator_id)
        .where(MA.period == month, MA.level.in_(sorted(RED_LEVELS)), UNIT.code.in_(list(on)))
        .order_by(IND.code)
    ):
        red.setdefault(code, []).append(name)
    return [
        ListedUnit(code, units[code][0], units[code][1], event.period, tuple(red.get(code, ())))
        for code, event in sorted(on.items())
    ]


def load_open_problems(session: Session, month: str) -> list[OpenProblem]:
    """Problems not closed yet whose period began by the end of ``month``."""
    last = Period.parse(month)
    rows = session.execute(
        select(
            PROB.id,
            UNIT.code,
            UNIT.name,
            PROB.source,
            PROB.period,
            PROB.description,
            PROB.rectify_by,
        )
        .join(Unit, UNIT.id == PROB.unit_id)
        .where(PROB.id.not_in(select(CLOSE.problem_id)))
        .order_by(PROB.id)
    )
    return [OpenProblem(*row) for row in rows if Period.parse(row[4]).months()[0] <= last]


def load_share_records(session: Session, recipient: str | None = None) -> list[SharedList]:
    stmt = select(
        SHARE.id,
        SHARE.recipient,
        SHARE.kind,
        SHARE.period,
        SHARE.unit_codes,
        SHARE.shared_at,
        SHARE.content_hash,
    ).order_by(SHARE.id)
    if recipient is not None:
        stmt = stmt.where(SHARE.recipient == recipient)
    return [
        SharedList(i, r, k, p, frozenset(codes or ()), at, h)
        for i, r, k, p, codes, at, h in session.execute(stmt)
    ]


def record_share(
    session: Session,
    recipient: str,
    kind: str,
    period: str,
    digest_hash: str,
    units: Sequence[str],
    now: datetime,
) -> ShareRecord:
    row = ShareRecord(
        recipient=recipient,
        kind=kind,
        period=period,
        content_hash=digest_hash,
        unit_codes=sorted(set(units)),
        shared_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _record_notices(
    session: Session, removals: Sequence[Removal], now: datetime
) -> list[ShareRecord]:
    out = []
    for (recipient, period), group in sorted(notice_groups(removals).items()):
        digest = content_hash(
            {
                "recipient": recipient,
                "period": period,
                "removed": sorted((r.unit_code, r.reason) for r in group),
            }
        )
        out.append(
            record_share(
                session, recipient, CHANGE_NOTICE, period, digest, [r.unit_code for r in group], now
            )
        )
    return out


@dataclass(frozen=True)
class ShareExport:
    """An export ready to write, and the change notice owed with it (maybe empty)."""

    recipient: str
    period: str
    content: dict[str, Any]
    sheets: dict[str, list[dict[str, Any]]]
    content_hash: str
    removals: tuple[Removal, ...]
    names: dict[str, str]
    repeated: bool = False
    """The recipient's latest export of this month had the same content: nothing recorded."""

    def payload(self, generated_at: datetime) -> dict[str, Any]:
        return {
            **self.content,
            "generated_at": to_shanghai(generated_at).isoformat(),
            "content_sha256": self.content_hash,
        }


def export_share(session: Session, recipient: str, month: str, now: datetime) -> ShareExport:
    """Build and record a recipient's export of ``month`` and the changes it is owed."""
    check_recipient(recipient)
    if Period.parse(month).kind.value != "month":
        raise ValueError(f"统计月份须为 YYYY-MM 形式，收到“{month}”。")
    listed = load_listed_units(session, month)
    problems = load_open_problems(session, month)
    content = share_content(recipient, month, listed, problems)
    digest = content_hash(content)
    records = load_share_records(session, recipient)
    events = load_negative_events(session)
    pending = corrections(records, events, recipient=recipient)
    previous = previous_export(records, recipient, month)
    new_units = [u.unit_code for u in listed]
    shrunk = removed_since(previous, new_units, month, already=pending)
    repeated = is_repeat(records, recipient, month, digest) and not pending
    if not repeated:
        record_share(session, recipient, NEGATIVE_LIST, month, digest, new_units, now)
        record_share(
            session, recipient, OPEN_PROBLEMS, month, digest, [p.unit_code for p in problems], now
        )
    removals = (*pending, *shrunk)
    _record_notices(session, removals, now)
    return ShareExport(
        recipient=recipient,
        period=month,
        content=content,
        sheets=share_sheets(content, now),
        content_hash=digest,
        removals=tuple(removals),
        names=unit_names(session),
        repeated=repeated,
    )


def pending_changes(
    session: Session,
    now: datetime,
    *,
    recipient: str | None = None,
    since: datetime | None = None,
    record: bool = True,
) -> tuple[dict[str, list[Removal]], dict[str, str]]:
    """Corrections owed to each recipient (recorded as notified unless ``record`` is False)."""
    if recipient is not None:
        check_recipient(recipient)
    removals = corrections(
        load_share_records(session), load_negative_events(session), recipient=recipient, since=since
    )
    if record:
        _record_notices(session, removals, now)
    by_recipient: dict[str, list[Removal]] = {}
    for r in removals:
        by_recipient.setdefault(r.recipient, []).append(r)
    return by_recipient, unit_names(session)
