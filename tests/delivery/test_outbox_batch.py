"""Queueing a batch of digests: bulk inserts and updates keep every outbox decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

import tasks.delivery.reads as reads
from models.messages import (
    MessageFooter,
    PlanAction,
    UnitDigest,
    build_unit_message,
    plan_outbox,
)
from models.persistence.database import session_scope
from models.persistence.tables import Message, Unit
from models.rules.periods import SHANGHAI
from tasks.delivery import load_existing, queue_digests, save_outbox
from tests.delivery.support import PERIOD, monthly_digest

pytestmark = pytest.mark.db

NOW = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
LATER = NOW + timedelta(days=1)
CODES = [f"DEPT-{i:02d}" for i in range(12)]


def next_hour(at: datetime) -> datetime:
    return at + timedelta(hours=1)


def add_units(engine: Engine, codes: list[str]) -> None:
    with session_scope(engine) as session:
        for code in codes:
            session.add(
                Unit(
                    code=code,
                    name=f"单位{code}",
                    kind="department",
                    category="government",
                    channels=[f"json://127.0.0.1:9/u/{code}"],
                )
            )


def digest(code: str, actual: str = "80") -> UnitDigest:
    return monthly_digest(code, f"单位{code}", actual=actual)


def empty(code: str) -> UnitDigest:
    return UnitDigest(code, f"单位{code}", "monthly_analysis", PERIOD)


def messages(engine: Engine) -> list[Message]:
    with session_scope(engine) as session:
        return list(session.exec(select(Message).order_by(col(Message.id))).all())


def queue(engine: Engine, digests: list[UnitDigest], at: datetime) -> dict[str, PlanAction]:
    with session_scope(engine) as session:
        plans = queue_digests(session, digests, now=at, send_at_fn=next_hour)
    return {p.unit_code: p.action for p in plans}


def test_a_batch_is_stored_as_built_and_queued_only_once(engine: Engine) -> None:
    add_units(engine, CODES)
    digests = [digest(code, actual=str(70 + i)) for i, code in enumerate(CODES)]

    assert set(queue(engine, digests, NOW).values()) == {PlanAction.NEW}
    rows = messages(engine)
    with session_scope(engine) as session:
        unit_ids = {u.code: u.id for u in session.exec(select(Unit)).all()}
    assert len(rows) == len(digests)
    for row, one in zip(rows, digests, strict=True):
        # queued with its footer: no pre-deductions booked, no platform link configured
        built = build_unit_message(replace(one, footer=MessageFooter(2026, Decimal(0))))
        assert row.unit_id == unit_ids[one.unit_code]
        assert (row.audience, row.kind, row.period, row.status) == (
            "unit",
            "monthly_analysis",
            PERIOD,
            "pending",
        )
        assert row.key == f"{one.unit_code}:monthly_analysis:{PERIOD}:{built.content_hash}"
        assert row.content_hash == built.content_hash
        assert (row.subject, row.body_markdown, row.body_text, row.body_html) == (
            built.subject,
            built.markdown,
            built.text,
            built.html,
        )
        assert row.due_at == next_hour(NOW)
        assert row.created_at == NOW
        assert row.supersedes_id is None and row.delivered_at is None
        assert row.cycle_run_id is None

    assert set(queue(engine, digests, LATER).values()) == {PlanAction.SKIP}
    assert len(messages(engine)) == len(digests)


def test_changes_in_a_batch_correct_replace_withdraw_or_leave_messages_as_before(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reads, "IN_CHUNK", 3)  # several IN lists per bulk update
    add_units(engine, CODES)
    queue(engine, [digest(code) for code in CODES], NOW)
    first = {m.unit_id: m for m in messages(engine)}
    with session_scope(engine) as session:
        ids = {u.code: u.id for u in session.exec(select(Unit)).all()}
        for code in [*CODES[0:4], CODES[10]]:
            message = session.exec(select(Message).where(Message.unit_id == ids[code])).one()
            message.status = "delivered"
            session.add(message)
    old = {code: first[ids[code]] for code in CODES}

    changed = [digest(code, actual="81") for code in CODES[0:8]]
    gone = [empty(code) for code in CODES[8:11]]
    with Session(engine, expire_on_commit=False) as session:
        loaded = session.get(Message, old[CODES[4]].id)  # in the session before queueing
        assert loaded is not None and loaded.status == "pending"
        plans = queue_digests(
            session, [*changed, *gone, digest(CODES[11])], now=LATER, send_at_fn=next_hour
        )
        assert loaded.status == "superseded"  # the bulk update reached the loaded object
        session.commit()

    actions = {p.unit_code: p.action for p in plans}
    assert actions == {
        **dict.fromkeys(CODES[0:4], PlanAction.CORRECTION),
        **dict.fromkeys(CODES[4:8], PlanAction.REPLACE),
        **dict.fromkeys(CODES[8:10], PlanAction.WITHDRAW),
        CODES[11]: PlanAction.SKIP,
    }
    rows = {m.id: m for m in messages(engine)}
    assert len(rows) == len(CODES) + 8
    status = {code: rows[old[code].id].status for code in CODES}
    assert status == {
        **dict.fromkeys(CODES[0:4], "delivered"),
        **dict.fromkeys(CODES[4:8], "superseded"),
        **dict.fromkeys(CODES[8:10], "withdrawn"),
        CODES[10]: "delivered",
        CODES[11]: "pending",
    }
    new = [m for m in rows.values() if m.created_at == LATER]
    assert [m.supersedes_id for m in new] == [old[code].id for code in CODES[0:8]]
    assert all(m.status == "pending" and m.due_at == next_hour(LATER) for m in new)
    assert [m.subject.startswith("【市考核办·更正】") for m in new] == [True] * 4 + [False] * 4


def test_save_outbox_inserts_the_new_messages_in_plan_order(engine: Engine) -> None:
    add_units(engine, CODES)
    digests = [digest(code) for code in reversed(CODES)]
    with session_scope(engine) as session:
        existing = load_existing(session, (d.slot for d in digests))
        plans = plan_outbox(digests, existing, NOW, next_hour)
        units = {u.code: u for u in session.exec(select(Unit)).all()}
        assert save_outbox(session, plans, units, NOW) == len(plans)
    assert [m.key for m in messages(engine)] == [p.key for p in plans]


def test_nothing_to_save_writes_nothing(engine: Engine) -> None:
    add_units(engine, CODES[:1])
    with session_scope(engine) as session:
        assert save_outbox(session, [], {}, NOW) == 0
        assert queue_digests(session, [empty(CODES[0])], now=NOW, send_at_fn=next_hour) == []
    assert messages(engine) == []
