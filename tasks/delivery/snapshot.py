"""The office's view of the outbox for one day: what goes out, what went out, what failed.

`outbox_snapshot` reads, for one day (Asia/Shanghai), the messages waiting to go out
by its end, delivered on it, or tried on it, without their bodies and with channels
redacted; `tasks.delivery.report` renders it in Chinese.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy import select as core_select
from sqlmodel import Session

from models.messages import AttemptOutcome, MessageStatus
from models.persistence.tables import DeliveryAttempt, Message, columns_of
from models.rules.periods import SHANGHAI
from tasks.delivery.channels import redact_channel
from tasks.delivery.lease import WAITING_STATUSES
from tasks.delivery.reads import AttemptLike, attempts_by_message, aware, load_units

__all__ = ["OutboxRow", "OutboxSnapshot", "outbox_snapshot"]


@dataclass(frozen=True)
class OutboxRow:
    """One message as the office sees it (no body)."""

    message_id: int
    audience: str
    unit_code: str | None
    unit_name: str | None
    kind: str
    period: str
    subject: str
    status: str
    correction: bool
    due_at: datetime
    delivered_at: datetime | None
    attempts: int
    failed_attempts: int
    channels: tuple[str, ...]
    last_error: str
    """The latest error of each channel still failing ("channel: error；...")."""

    @property
    def group(self) -> str:
        """pending | delivered | failed (failed includes partly delivered and given up)."""
        if self.status == MessageStatus.PENDING:
            return "pending"
        if self.status == MessageStatus.DELIVERED:
            return "delivered"
        return "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "audience": self.audience,
            "unit_code": self.unit_code,
            "unit_name": self.unit_name,
            "kind": self.kind,
            "period": self.period,
            "subject": self.subject,
            "status": self.status,
            "group": self.group,
            "correction": self.correction,
            "due_at": self.due_at.isoformat(),
            "delivered_at": None if self.delivered_at is None else self.delivered_at.isoformat(),
            "attempts": self.attempts,
            "failed_attempts": self.failed_attempts,
            "channels": list(self.channels),
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class OutboxSnapshot:
    """The outbox for one day (Asia/Shanghai): what goes out, what went out, what failed."""

    day: date
    rows: tuple[OutboxRow, ...]

    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for row in self.rows:
            counts = out.setdefault(row.kind, {"pending": 0, "delivered": 0, "failed": 0})
            counts[row.group] += 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "counts": self.counts_by_kind(),
            "messages": [row.to_dict() for row in self.rows],
        }


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def outbox_snapshot(session: Session, day: date) -> OutboxSnapshot:
    """Messages waiting to go out by the end of `day`, delivered on it, or tried on it."""
    start, end = _day_bounds(day)
    m, da = columns_of(Message), columns_of(DeliveryAttempt)
    tried = core_select(da.message_id).where(da.attempted_at >= start, da.attempted_at < end)
    chosen = session.execute(
        core_select(
            m.id,
            m.audience,
            m.unit_id,
            m.kind,
            m.period,
            m.subject,
            m.status,
            m.supersedes_id,
            m.due_at,
            m.delivered_at,
        )
        .where(
            or_(
                and_(m.status.in_(WAITING_STATUSES), m.due_at < end),
                and_(m.delivered_at >= start, m.delivered_at < end),
                m.id.in_(tried),
            )
        )
        .order_by(m.id)
    ).all()
    attempts = attempts_by_message(session, [row.id for row in chosen])
    units = load_units(session, {row.unit_id for row in chosen if row.unit_id is not None})
    rows = []
    for row in chosen:
        history = attempts.get(row.id, [])
        unit = units.get(row.unit_id) if row.unit_id is not None else None
        shown = tuple(dict.fromkeys(a.channel for a in history))
        if not shown and unit is not None:
            shown = tuple(redact_channel(c) for c in unit.channels)
        failures = [a for a in history if a.outcome == AttemptOutcome.FAILED]
        rows.append(
            OutboxRow(
                message_id=row.id,
                audience=row.audience,
                unit_code=unit.code if unit else None,
                unit_name=unit.name if unit else None,
                kind=row.kind,
                period=row.period,
                subject=row.subject,
                status=row.status,
                correction=row.supersedes_id is not None and "更正" in row.subject,
                due_at=aware(row.due_at),
                delivered_at=None if row.delivered_at is None else aware(row.delivered_at),
                attempts=len(history),
                failed_attempts=len(failures),
                channels=shown,
                last_error=_latest_errors(history),
            )
        )
    return OutboxSnapshot(day=day, rows=tuple(rows))


def _latest_errors(history: Sequence[AttemptLike]) -> str:
    """The latest error of each channel that has not accepted the message."""
    delivered = {a.channel for a in history if a.outcome == AttemptOutcome.DELIVERED}
    latest: dict[str, str] = {}
    for attempt in history:
        if attempt.outcome == AttemptOutcome.FAILED and attempt.channel not in delivered:
            latest[attempt.channel] = attempt.error
    return "；".join(f"{channel}: {error}" for channel, error in latest.items())
