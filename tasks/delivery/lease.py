"""Leases on outbox messages: a message is claimed before it is sent, its answers are
committed as they come, and it is released with its new status.

Two delivery runs (an overlapping schedule, two workers, a rerun after a crash)
never send one message both: each run claims a message just before its first post
(`claim`), records every channel's answer as soon as it comes, and releases the
message in the transaction that writes its new status (`settle`).

- The lease lives on the message row: ``lease_until`` is set while a run holds it
  and cleared on release; ``claimed_by`` names the run that claimed it last and is
  kept after release, so it doubles as the row's version: a claim names the holder
  it saw when it read the message, and fails if anyone claimed it since (its
  history of attempts would be stale).
- PostgreSQL: the row is taken with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside the
  claiming ``UPDATE`` (a run never waits on another's claim). SQLite: one
  conditional ``UPDATE`` (the database has one writer at a time, so the check and
  the take are atomic); either way the claim succeeded when one row was updated.
- A lease still set after it expired belongs to a run that stopped (killed,
  crashed) between a post and its recorded answer: the message may have reached
  the unit. The run that takes it over sends it again once (``resend`` on the
  attempt, and a warning in the log); no other message is ever sent twice.
- `Bookkeeping` keeps the books of one claimed message while it is sent: each
  channel's answer is committed before anything else is posted or waited for.
- Lease times are wall-clock times (``lease_clock``), not the run's scheduled
  ``now``: they must mean the same for every worker.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Insert, Update, bindparam, insert, or_, update
from sqlalchemy import select as core_select

from models.messages import WAITING_STATUSES as WAITING
from models.persistence.tables import DeliveryAttempt, Message, columns_of, table_of

__all__ = [
    "DEFAULT_LEASE",
    "LEASE_MARGIN",
    "WAITING_STATUSES",
    "Bookkeeping",
    "LeaseSeen",
    "claim",
    "insert_attempts",
    "new_holder",
    "release",
    "settle",
    "wall_clock",
]

log = logging.getLogger(__name__)

WAITING_STATUSES = tuple(sorted(WAITING))
"""Statuses a delivery run picks up (and may claim)."""
DEFAULT_LEASE = timedelta(minutes=15)
"""How long a claim holds a message: longer than any one message's sending (every
channel, every try, the robots' rate-limit waits)."""
LEASE_MARGIN = timedelta(seconds=30)
"""No post starts later than this before the lease ends (a post's HTTP timeout is 20 s)."""


def wall_clock() -> datetime:
    """The default lease clock: now, in UTC."""
    return datetime.now(UTC)


def new_holder() -> str:
    """A delivery run's name as a lease holder: host, process, and a random part."""
    host = socket.gethostname()[:32] or "host"
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:16]}"[:64]


@dataclass(frozen=True)
class LeaseSeen:
    """A message's lease as read with it, before it is claimed."""

    claimed_by: str | None
    lease_until: datetime | None

    def held_at(self, at: datetime) -> bool:
        """Whether another run holds it at ``at``."""
        return self.lease_until is not None and self.lease_until > at

    def abandoned_at(self, at: datetime) -> bool:
        """Whether its holder stopped without releasing it (the lease expired while set)."""
        return self.lease_until is not None and self.lease_until <= at


def claim(
    conn: Connection,
    message_id: int,
    *,
    holder: str,
    seen: LeaseSeen,
    now: datetime,
    at: datetime,
    until: datetime,
) -> bool:
    """Claim the message for ``holder`` until ``until`` (committed); False when it is
    held by another run, was claimed by anyone since it was read (``seen``), or is no
    longer waiting and due at ``now``."""
    with conn.begin():
        claimed = conn.execute(
            _claim_statement(conn.dialect.name),
            {
                "b_id": message_id,
                "b_now": now,
                "b_seen": seen.claimed_by,
                "b_at": at,
                "b_holder": holder,
                "b_until": until,
            },
        ).rowcount
    return claimed == 1


@lru_cache(maxsize=4)
def _claim_statement(dialect: str) -> Update:
    """The claim, built once per dialect (a delivery run claims every message it sends)."""
    m = columns_of(Message)
    conditions = (
        m.id == bindparam("b_id"),
        m.status.in_(WAITING_STATUSES),
        m.due_at <= bindparam("b_now", type_=m.due_at.type),
        m.claimed_by.is_not_distinct_from(bindparam("b_seen", type_=m.claimed_by.type)),
        or_(m.lease_until.is_(None), m.lease_until <= bindparam("b_at", type_=m.lease_until.type)),
    )
    table = table_of(Message)
    if dialect == "postgresql":
        locked = (
            core_select(m.id).where(*conditions).with_for_update(skip_locked=True)
        ).scalar_subquery()
        statement = update(table).where(m.id == locked)
    else:
        statement = update(table).where(*conditions)
    return statement.values(
        claimed_by=bindparam("b_holder", type_=m.claimed_by.type),
        lease_until=bindparam("b_until", type_=m.lease_until.type),
    )


def insert_attempts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append attempt rows (``message_id, channel, attempted_at, outcome, error, resend``)
    in the caller's transaction."""
    if rows:
        conn.execute(_insert_statement(), list(rows))


@lru_cache(maxsize=1)
def _insert_statement() -> Insert:
    return insert(table_of(DeliveryAttempt))


def settle(
    conn: Connection,
    message_id: int,
    *,
    holder: str,
    status: str,
    delivered_at: datetime | None,
) -> bool:
    """Write the message's status and release it, in the caller's transaction; False
    (nothing written) when ``holder`` no longer holds it."""
    parameters = {"b_id": message_id, "b_holder": holder, "b_status": status, "b_at": delivered_at}
    return conn.execute(_settle_statement(), parameters).rowcount == 1


@lru_cache(maxsize=1)
def _settle_statement() -> Update:
    m = columns_of(Message)
    return (
        update(table_of(Message))
        .where(
            m.id == bindparam("b_id"),
            m.claimed_by == bindparam("b_holder", type_=m.claimed_by.type),
            m.lease_until.is_not(None),
        )
        .values(
            status=bindparam("b_status", type_=m.status.type),
            delivered_at=bindparam("b_at", type_=m.delivered_at.type),
            lease_until=None,
        )
    )


def release(conn: Connection, message_id: int, *, holder: str) -> None:
    """Give the message back without changing its status (committed)."""
    m = columns_of(Message)
    with conn.begin():
        conn.execute(
            update(table_of(Message))
            .where(m.id == message_id, m.claimed_by == holder)
            .values(lease_until=None)
        )


class Bookkeeping:
    """The answers of one claimed message, committed as they come (the `Checkpoints` of
    `tasks.delivery.sending`).

    Runs in the worker thread sending the message, on that thread's connection. When
    the run took the message over from a run whose lease expired (``takeover``), the
    first post to each channel is a resend: marked ``resend`` and logged.
    """

    def __init__(
        self,
        conn: Connection,
        message_id: int,
        *,
        until: datetime,
        lease_clock: Callable[[], datetime],
        takeover: LeaseSeen | None,
    ) -> None:
        self.conn = conn
        self.message_id = message_id
        self.until = until
        self.lease_clock = lease_clock
        self.takeover = takeover
        self._rows: list[dict[str, Any]] = []
        self._posted: set[str] = set()

    def answered(self, attempt: DeliveryAttempt) -> None:
        resend = self.takeover is not None and attempt.channel not in self._posted
        self._posted.add(attempt.channel)
        if resend and self.takeover is not None:
            log.warning(
                "message %s resent to %s: the lease of %s expired at %s before its answer "
                "was recorded",
                self.message_id,
                attempt.channel,
                self.takeover.claimed_by,
                self.takeover.lease_until,
            )
        self._rows.append(
            {
                "message_id": self.message_id,
                "channel": attempt.channel,
                "attempted_at": attempt.attempted_at,
                "outcome": attempt.outcome,
                "error": attempt.error,
                "resend": resend,
            }
        )

    def flush(self) -> None:
        if self._rows:
            with self.conn.begin():
                insert_attempts(self.conn, self.take())

    def take(self) -> list[dict[str, Any]]:
        """The answers not yet committed (the caller writes them)."""
        rows, self._rows = self._rows, []
        return rows

    def may_post(self) -> bool:
        return self.lease_clock() + LEASE_MARGIN < self.until
