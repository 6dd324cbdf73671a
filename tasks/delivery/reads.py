"""Reads of the outbox tables shared by the delivery run and the office's snapshot.

Core queries (no ORM objects: what they return may cross threads): a message as it
is sent (`OutgoingMessage`, with its lease), its recorded attempts, the units'
names and channels, which messages are due (`due_ids`). ``IN`` lists are sent
`IN_CHUNK` ids at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

from sqlalchemy import Connection, func
from sqlalchemy import select as core_select
from sqlmodel import Session

from models.messages import MessageStatus, fill_appeal_deadline
from models.messages.deadlines import APPEAL_PLACEHOLDER_MARK
from models.persistence.tables import DeliveryAttempt, Message, Unit, columns_of
from models.rules import WorkCalendar
from models.rules.periods import SHANGHAI
from tasks.delivery.lease import WAITING_STATUSES, LeaseSeen

__all__ = [
    "IN_CHUNK",
    "OFFICE",
    "UNIT_UNREACHABLE",
    "AttemptLike",
    "Due",
    "OutgoingMessage",
    "PastAttempt",
    "UnitInfo",
    "attempts_by_message",
    "aware",
    "chunks",
    "due_ids",
    "load_outgoing",
    "load_units",
    "shanghai_time",
]

OFFICE = "office"
"""The audience of the office's own messages (alerts to the operations channels)."""
UNIT_UNREACHABLE = "unit_unreachable"
"""The kind of the office alert raised for an undeliverable unit message."""

IN_CHUNK = 500
"""Ids per ``IN (...)`` list (well under SQLite's and PostgreSQL's parameter limits)."""


def chunks(ids: Sequence[int], size: int | None = None) -> Iterator[Sequence[int]]:
    """``ids`` in slices of ``size`` (default `IN_CHUNK`, read at call time)."""
    size = size or IN_CHUNK
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def shanghai_time(value: datetime) -> datetime:
    """``value`` in Asia/Shanghai."""
    return aware(value).astimezone(SHANGHAI)


def aware(value: datetime) -> datetime:
    """``value`` as an aware datetime (naive ones are UTC)."""
    # func.max bypasses the column type on SQLite and returns a naive UTC datetime or text
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class AttemptLike(Protocol):
    """What settling a message and the office's view read of an attempt."""

    @property
    def channel(self) -> str: ...
    @property
    def attempted_at(self) -> datetime: ...
    @property
    def outcome(self) -> str: ...
    @property
    def error(self) -> str: ...


class PastAttempt(NamedTuple):
    """A recorded `DeliveryAttempt`, as read back (Core, no ORM object)."""

    channel: str
    attempted_at: datetime
    outcome: str
    error: str


def attempts_by_message(
    session: Session | Connection, message_ids: Sequence[int]
) -> dict[int, list[PastAttempt]]:
    """Each message's recorded attempts, oldest first (``IN`` lists in chunks)."""
    da = columns_of(DeliveryAttempt)
    out: dict[int, list[PastAttempt]] = {}
    for chunk in chunks(message_ids):
        rows = session.execute(
            core_select(da.message_id, da.channel, da.attempted_at, da.outcome, da.error)
            .where(da.message_id.in_(chunk))
            .order_by(da.id)
        )
        for message_id, channel, attempted_at, outcome, error in rows:
            out.setdefault(message_id, []).append(
                PastAttempt(channel, aware(attempted_at), outcome, error)
            )
    return out


@dataclass(frozen=True)
class OutgoingMessage:
    """A due message as `deliver_due` sends it: plain data, handed to worker threads
    (an ORM object must not cross threads)."""

    id: int
    key: str
    unit_id: int | None
    audience: str
    kind: str
    period: str
    subject: str
    body_markdown: str
    body_text: str
    body_html: str
    due_at: datetime
    delivered_at: datetime | None


def with_appeal_deadline(
    message: OutgoingMessage, calendar: WorkCalendar, now: datetime
) -> OutgoingMessage:
    """The message as it is posted: an appeal window counted from delivery gets its last
    day from the day it is delivered (its first delivery when some channel already has
    it, else ``now``), the day intake counts from (rulebook section 7)."""
    bodies = (message.body_markdown, message.body_text, message.body_html)
    if not any(APPEAL_PLACEHOLDER_MARK in body for body in bodies):
        return message
    at = message.delivered_at or now
    return replace(
        message,
        body_markdown=fill_appeal_deadline(message.body_markdown, at, calendar),
        body_text=fill_appeal_deadline(message.body_text, at, calendar),
        body_html=fill_appeal_deadline(message.body_html, at, calendar),
    )


class UnitInfo(NamedTuple):
    code: str
    name: str
    channels: tuple[str, ...]


def load_outgoing(session: Session, ids: Sequence[int]) -> list[tuple[OutgoingMessage, LeaseSeen]]:
    """The messages `ids`, in that order, each with its lease (one query)."""
    m = columns_of(Message)
    rows = session.execute(
        core_select(
            m.id,
            m.key,
            m.unit_id,
            m.audience,
            m.kind,
            m.period,
            m.subject,
            m.body_markdown,
            m.body_text,
            m.body_html,
            m.due_at,
            m.delivered_at,
            m.claimed_by,
            m.lease_until,
        ).where(m.id.in_(ids))
    ).all()
    by_id = {
        row.id: (
            OutgoingMessage(
                id=row.id,
                key=row.key,
                unit_id=row.unit_id,
                audience=row.audience,
                kind=row.kind,
                period=row.period,
                subject=row.subject,
                body_markdown=row.body_markdown,
                body_text=row.body_text,
                body_html=row.body_html,
                due_at=aware(row.due_at),
                delivered_at=None if row.delivered_at is None else aware(row.delivered_at),
            ),
            LeaseSeen(row.claimed_by, None if row.lease_until is None else aware(row.lease_until)),
        )
        for row in rows
    }
    return [by_id[i] for i in ids if i in by_id]


def load_units(session: Session, unit_ids: Collection[int]) -> dict[int, UnitInfo]:
    u = columns_of(Unit)
    out: dict[int, UnitInfo] = {}
    for chunk in chunks(sorted(unit_ids)):
        for unit_id, code, name, channels in session.execute(
            core_select(u.id, u.code, u.name, u.channels).where(u.id.in_(chunk))
        ):
            out[unit_id] = UnitInfo(code, name, tuple(channels or ()))
    return out


class Due(NamedTuple):
    """A due message, as the delivery run orders them."""

    id: int
    audience: str
    due_at: datetime


def due_ids(session: Session, now: datetime, retry_after: timedelta) -> list[Due]:
    """The messages due at ``now``, unit messages first: pending ones due by now, and
    failed or partly delivered ones whose last attempt is at least ``retry_after`` old.
    Ids only (bodies are read later, a batch at a time)."""
    m = columns_of(Message)
    candidates = session.execute(
        core_select(m.id, m.status, m.audience, m.due_at)
        .where(m.status.in_(WAITING_STATUSES), m.due_at <= now)
        .order_by(m.due_at, m.id)
    ).all()
    retrying = [
        message_id for message_id, status, _, _ in candidates if status != MessageStatus.PENDING
    ]
    da = columns_of(DeliveryAttempt)
    last: dict[int, datetime] = {}
    for chunk in chunks(retrying):
        for message_id, latest in session.execute(
            core_select(da.message_id, func.max(da.attempted_at))
            .where(da.message_id.in_(chunk))
            .group_by(da.message_id)
        ):
            if latest is not None:
                last[message_id] = aware(latest)
    due = [
        Due(message_id, audience, aware(due_at))
        for message_id, status, audience, due_at in candidates
        if status == MessageStatus.PENDING
        or message_id not in last
        or last[message_id] + retry_after <= now
    ]
    return sorted(due, key=lambda d: (d.audience == OFFICE, d.due_at, d.id))
