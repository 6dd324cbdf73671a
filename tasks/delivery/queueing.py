"""Queueing into the outbox: a unit's digest becomes a message, once.

`queue_digests` = `load_existing` + `models.messages.plan_outbox` + `save_outbox`. A
message is keyed by unit, kind, period and content hash, so the same content is
never queued twice; changed content is queued as a correction (or replaces a
message that has not reached the unit yet). Messages wait for the send window
(`send_window`: a working day, the year's hours). `requeue_message` queues an
undeliverable message again once its channel is fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, insert, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from models.messages import (
    MERGEABLE_KINDS,
    ConfidentialContentError,
    MessageFooter,
    MessagePlan,
    MessageStatus,
    PlanAction,
    UnitDigest,
    WaitingMessage,
    digest_from_canonical,
    plan_outbox,
)
from models.persistence.tables import DeductionEntry, Message, Unit, columns_of, table_of
from models.rules.workdays import WorkCalendar
from models.rules.yearrules import DEFAULT_RULES, YearRules
from tasks.delivery.reads import chunks
from tasks.settings import get_settings

UNIT = columns_of(Unit)
DED = columns_of(DeductionEntry)

__all__ = [
    "load_existing",
    "load_merged_in",
    "load_waiting",
    "queue_digests",
    "requeue_message",
    "save_outbox",
    "send_window",
]


def send_window(
    calendar: WorkCalendar, rules: YearRules = DEFAULT_RULES
) -> Callable[[datetime], datetime]:
    """The ``send_at_fn`` of `plan_outbox`: the next send window (working day 09:00–18:00)."""

    def send_at(at: datetime) -> datetime:
        return calendar.message_send_time(at, rules)

    return send_at


def load_existing(
    session: Session, slots: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], list[tuple[str, str, int]]]:
    """Earlier unit messages per (unit_code, kind, period_key), oldest first.

    One query, reading only the columns a plan needs (not the bodies).
    """
    wanted = set(slots)
    if not wanted:
        return {}
    codes = {s[0] for s in wanted}
    kinds = {s[1] for s in wanted}
    periods = {s[2] for s in wanted}
    table = table_of(Message)
    m = table.c
    rows = session.execute(
        core_select(col(Unit.code), m.kind, m.period, m.content_hash, m.status, m.id)
        .join_from(table, Unit, m.unit_id == col(Unit.id))
        .where(
            m.audience == "unit",
            col(Unit.code).in_(codes),
            m.kind.in_(kinds),
            m.period.in_(periods),
        )
        .order_by(m.id)
    ).all()
    out: dict[tuple[str, str, str], list[tuple[str, str, int]]] = {}
    for code, kind, period, digest_hash, status, message_id in rows:
        slot = (code, kind, period)
        if slot in wanted and message_id is not None:
            out.setdefault(slot, []).append((digest_hash, status, message_id))
    return out


_UNREACHED = (MessageStatus.PENDING, MessageStatus.FAILED)


def load_waiting(
    session: Session, unit_kinds: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[WaitingMessage]]:
    """Per (unit_code, kind) of a mergeable kind: its messages that have not reached the
    unit (pending or failed), of any period, with their digests rebuilt from ``content``
    (messages queued before ``content`` was kept cannot be merged and are left alone)."""
    wanted = {uk for uk in unit_kinds if uk[1] in MERGEABLE_KINDS}
    if not wanted:
        return {}
    m = table_of(Message).c
    rows = session.execute(
        core_select(col(Unit.code), col(Unit.name), m.kind, m.id, m.content)
        .join_from(table_of(Message), Unit, m.unit_id == col(Unit.id))
        .where(
            m.audience == "unit",
            col(Unit.code).in_({c for c, _ in wanted}),
            m.kind.in_({k for _, k in wanted}),
            m.status.in_(_UNREACHED),
            m.content.is_not(None),
        )
        .order_by(m.id)
    ).all()
    out: dict[tuple[str, str], list[WaitingMessage]] = {}
    for code, name, kind, message_id, content in rows:
        if (code, kind) in wanted:
            digest = digest_from_canonical(content, name)
            out.setdefault((code, kind), []).append(WaitingMessage(message_id, digest))
    return out


def load_merged_in(
    session: Session, slots: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], list[UnitDigest]]:
    """Per (unit_code, kind, period_key) of a mergeable kind: the digests of the messages
    merged into any of the slot's messages, oldest period first."""
    wanted = {s for s in slots if s[1] in MERGEABLE_KINDS}
    if not wanted:
        return {}
    message = table_of(Message)
    target = message.alias("target")
    m, t = message.c, target.c
    rows = session.execute(
        core_select(col(Unit.code), col(Unit.name), t.kind, t.period, m.content)
        .select_from(message)
        .join(target, m.merged_into_id == t.id)
        .join(Unit, t.unit_id == col(Unit.id))
        .where(
            m.status == MessageStatus.MERGED,
            m.content.is_not(None),
            col(Unit.code).in_({s[0] for s in wanted}),
            t.kind.in_({s[1] for s in wanted}),
            t.period.in_({s[2] for s in wanted}),
        )
        .order_by(m.period, m.id)
    ).all()
    out: dict[tuple[str, str, str], list[UnitDigest]] = {}
    for code, name, kind, period, content in rows:
        if (code, kind, period) in wanted:
            out.setdefault((code, kind, period), []).append(digest_from_canonical(content, name))
    return out


def _mark_merged(session: Session, merges: Mapping[int, int]) -> None:
    """Messages not yet reached their unit -> ``merged`` into the message that takes them over."""
    for old_id, new_id in merges.items():
        session.execute(
            update(Message)
            .where(col(Message.id) == old_id, col(Message.status).in_(_UNREACHED))
            .values(status=MessageStatus.MERGED, merged_into_id=new_id)
            .execution_options(synchronize_session="fetch")
        )


def _mark_old(session: Session, ids: Sequence[int], status: str, condition: Any) -> None:
    """Set ``status`` on the messages ``ids`` that meet ``condition``.

    ORM-enabled UPDATEs: messages already loaded in the session see the new status.
    """
    for chunk in chunks(ids):
        session.execute(
            update(Message)
            .where(col(Message.id).in_(chunk), condition)
            .values(status=status)
            .execution_options(synchronize_session="fetch")
        )


def _row(
    plan: MessagePlan, unit_id: int, status: str, now: datetime, cycle_run_id: int | None
) -> dict[str, Any]:
    rendered = plan.rendered
    return {
        "key": plan.key,
        "unit_id": unit_id,
        "audience": "unit",
        "kind": plan.kind,
        "period": plan.period_key,
        "content_hash": plan.content_hash,
        "subject": "" if rendered is None else rendered.subject,
        "body_markdown": "" if rendered is None else rendered.markdown,
        "body_text": "" if rendered is None else rendered.text,
        "body_html": "" if rendered is None else rendered.html,
        "supersedes_id": plan.supersedes_id,
        "merged_into_id": None,
        "content": plan.content or None,
        "status": status,
        "due_at": plan.due_at,
        "created_at": now,
        "delivered_at": None,
        "cycle_run_id": cycle_run_id,
    }


def save_outbox(
    session: Session,
    plans: Iterable[MessagePlan],
    units_by_code: Mapping[str, Unit],
    now: datetime,
    *,
    cycle_run_id: int | None = None,
) -> int:
    """Apply plans: insert new messages, supersede or withdraw waiting ones.

    Every plan is checked before anything is written. Superseded and withdrawn
    messages are updated in bulk; new messages are inserted, in plan order, in one
    executemany (Core: no ORM objects, nothing read back). Returns how many were
    inserted.
    """
    withdraw: list[int] = []
    supersede: list[int] = []
    rows: list[dict[str, Any]] = []
    merges: dict[int, int] = {}  # old message id -> the message that takes it over
    merging: dict[str, tuple[int, ...]] = {}  # new message key -> the ids it takes over
    for plan in plans:
        if plan.action is PlanAction.SKIP:
            if plan.merges and plan.supersedes_id is not None:
                merges.update(dict.fromkeys(plan.merges, plan.supersedes_id))
            continue
        if plan.action is PlanAction.WITHDRAW:
            if plan.supersedes_id is not None:
                withdraw.append(plan.supersedes_id)
            if plan.content and plan.due_at is not None:  # merged into nothing left to send
                unit = units_by_code.get(plan.unit_code)
                if unit is None or unit.id is None:
                    raise ValueError(f"unknown unit {plan.unit_code!r}")
                merging[plan.key] = plan.merges
                rows.append(_row(plan, unit.id, MessageStatus.WITHDRAWN, now, cycle_run_id))
            continue
        rendered = plan.rendered
        if rendered is None or plan.due_at is None:
            raise ValueError(f"plan {plan.action} for {plan.key} has no rendered message")
        if not rendered.for_unit:
            raise ConfidentialContentError(
                f"refused: the message for {plan.unit_code} was not built by build_unit_message"
            )
        unit = units_by_code.get(plan.unit_code)
        if unit is None or unit.id is None:
            raise ValueError(f"unknown unit {plan.unit_code!r}")
        if plan.supersedes_id is not None:
            supersede.append(plan.supersedes_id)
        if plan.merges:
            merging[plan.key] = plan.merges
        rows.append(_row(plan, unit.id, MessageStatus.PENDING, now, cycle_run_id))
    session.flush()
    status = col(Message.status)
    _mark_old(
        session,
        withdraw,
        MessageStatus.WITHDRAWN,
        status.in_((MessageStatus.PENDING, MessageStatus.FAILED)),
    )
    _mark_old(
        session,
        supersede,
        MessageStatus.SUPERSEDED,
        status.not_in(
            (
                MessageStatus.DELIVERED,
                MessageStatus.WITHDRAWN,
                MessageStatus.SUPERSEDED,
                MessageStatus.MERGED,
            )
        ),
    )
    if rows:
        session.execute(insert(table_of(Message)), rows)
    if merging:
        m = table_of(Message).c
        ids: dict[str, int] = {
            key: int(message_id)
            for key, message_id in session.execute(
                core_select(m.key, m.id).where(m.key.in_(merging))
            ).all()
        }
        for key, old_ids in merging.items():
            merges.update(dict.fromkeys(old_ids, ids[key]))
    _mark_merged(session, merges)
    return len(rows)


def unit_url(template: str | None, unit_code: str, year: int) -> str | None:
    """The unit's page on the platform from ``ASSESS_PLATFORM_UNIT_URL`` (None: unset)."""
    if not template:
        return None
    return template.replace("{unit_code}", unit_code).replace("{year}", str(year))


def load_pre_deduction_totals(
    session: Session, keys: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], Decimal]:
    """(unit code, year) → the unit's pre-deductions of the year booked so far (the sum
    of its signed ``pre`` entries of the deduction ledger)."""
    wanted = set(keys)
    if not wanted:
        return {}
    codes = sorted({code for code, _ in wanted})
    years = sorted({year for _, year in wanted})
    rows = session.execute(
        core_select(UNIT.code, DED.year, func.coalesce(func.sum(DED.amount), 0))
        .join(DeductionEntry, DED.unit_id == UNIT.id)
        .where(col(UNIT.code).in_(codes), col(DED.year).in_(years), DED.stage == "pre")
        .group_by(UNIT.code, DED.year)
    ).all()
    found = {(code, int(year)): Decimal(total) for code, year, total in rows}
    return {key: found.get(key, Decimal(0)) for key in wanted}


def with_footers(session: Session, digests: list[UnitDigest]) -> list[UnitDigest]:
    """Each digest with its footer: the unit's running pre-deductions of the digest's year
    and the link to its data on the platform (not hashed: see ``MessageFooter``)."""
    keys = {(d.unit_code, int(d.period_key[:4])) for d in digests}
    totals = load_pre_deduction_totals(session, keys)
    template = get_settings().platform_unit_url
    return [
        replace(
            d,
            footer=MessageFooter(
                year=int(d.period_key[:4]),
                pre_deductions=totals[(d.unit_code, int(d.period_key[:4]))],
                unit_url=unit_url(template, d.unit_code, int(d.period_key[:4])),
            ),
        )
        for d in digests
    ]


def queue_digests(
    session: Session,
    digests: Iterable[UnitDigest],
    *,
    now: datetime,
    send_at_fn: Callable[[datetime], datetime],
    cycle_run_id: int | None = None,
) -> list[MessagePlan]:
    """Plan and save the outbox for `digests` (idempotent: the same content is never
    queued twice; a unit's older waiting messages of a mergeable kind are merged into the
    new one, see `models.messages.merging`). Returns the plans, skips included."""
    the_digests = with_footers(session, list(digests))
    existing = load_existing(session, (d.slot for d in the_digests))
    plans = plan_outbox(
        the_digests,
        existing,
        now,
        send_at_fn,
        waiting=load_waiting(session, ((d.unit_code, d.kind) for d in the_digests)),
        merged_in=load_merged_in(session, (d.slot for d in the_digests)),
    )
    codes = {p.unit_code for p in plans if p.creates_message or p.content}
    units = (
        {u.code: u for u in session.exec(select(Unit).where(col(Unit.code).in_(codes))).all()}
        if codes
        else {}
    )
    save_outbox(session, plans, units, now, cycle_run_id=cycle_run_id)
    return plans


def requeue_message(session: Session, message_id: int, now: datetime) -> Message:
    """Queue an undeliverable (or failed) message again, e.g. after its channel was fixed.

    It is due at `now` and its failures count afresh; a new alert is raised if it
    becomes undeliverable again.
    """
    message = session.get(Message, message_id)
    if message is None:
        raise ValueError(f"no message {message_id}")
    if message.status not in (
        MessageStatus.UNDELIVERABLE,
        MessageStatus.FAILED,
        MessageStatus.PARTIAL,
    ):
        raise ValueError(f"message {message_id} is {message.status}: nothing to requeue")
    message.status = (
        MessageStatus.PARTIAL if message.delivered_at is not None else MessageStatus.PENDING
    )
    message.due_at = now
    session.add(message)
    session.flush()
    return message


class MessageBody(Protocol):
    """What a rendered message gives the outbox row (digests, notices, alerts)."""

    @property
    def content_hash(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def markdown(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def html(self) -> str: ...


def add_pending_message(
    session: Session,
    *,
    key: str,
    audience: str,
    kind: str,
    period: str,
    body: MessageBody,
    now: datetime,
    unit_id: int | None = None,
    run_id: int | None = None,
) -> Message | None:
    """Queue one message (status pending, due now) unless its key is queued already:
    the one way a notice or an alert enters the outbox outside the digests."""
    if session.exec(select(Message.id).where(Message.key == key)).first() is not None:
        return None
    message = Message(
        key=key,
        unit_id=unit_id,
        audience=audience,
        kind=kind,
        period=period,
        content_hash=body.content_hash,
        subject=body.subject,
        body_markdown=body.markdown,
        body_text=body.text,
        body_html=body.html,
        status=MessageStatus.PENDING,
        due_at=now,
        created_at=now,
        cycle_run_id=run_id,
    )
    session.add(message)
    return message
