"""Delivery at province scale: concurrent sends, bookkeeping as answers come, a capped artifact."""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from models.persistence.database import session_scope
from models.persistence.tables import DeliveryAttempt, Message, Unit
from models.rules.periods import SHANGHAI
from models.rules.workdays import WorkCalendar
from tasks.delivery import (
    DeliveryRun,
    OutboxRow,
    OutboxSnapshot,
    RateLimiter,
    deliver_due,
    make_notifier,
    queue_digests,
    send_window,
)
from tasks.delivery.report import ARTIFACT_ROWS, render_outbox
from tests.delivery.support import monthly_digest
from tests.fixtures.receivers import FakeClock, HttpReceiver

FRIDAY_10 = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
ROBOT_PATH = "/robot/send"


def add_units(engine: Engine, channels: dict[str, list[str]]) -> None:
    with session_scope(engine) as session:
        for code, urls in channels.items():
            session.add(
                Unit(
                    code=code,
                    name=f"单位{code}",
                    kind="department",
                    category="government",
                    channels=urls,
                )
            )


def queue(engine: Engine, codes: list[str], at: datetime = FRIDAY_10) -> None:
    with session_scope(engine) as session:
        queue_digests(
            session,
            [monthly_digest(code, f"单位{code}") for code in codes],
            now=at,
            send_at_fn=send_window(WorkCalendar()),
        )


def deliver(
    engine: Engine,
    clock: FakeClock,
    http: HttpReceiver,
    at: datetime = FRIDAY_10,
    **options: object,
) -> DeliveryRun:
    factory = partial(
        make_notifier,
        robot_endpoints={"dingtalk": http.endpoint(ROBOT_PATH, "access_token={token}")},
    )
    with session_scope(engine) as session:
        return deliver_due(
            session,
            now=at,
            notifier_factory=factory,
            sleep=options.pop("sleep", clock.sleep),  # type: ignore[arg-type]
            monotonic=clock.monotonic,
            **options,  # type: ignore[arg-type]
        )


def statuses(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(Unit.code, Message.status).join(Unit, col(Message.unit_id) == col(Unit.id))
        ).all()
    return dict(rows)


def attempts(engine: Engine) -> list[DeliveryAttempt]:
    with session_scope(engine) as session:
        return list(session.exec(select(DeliveryAttempt).order_by(col(DeliveryAttempt.id))).all())


@pytest.mark.db
@pytest.mark.http
def test_many_messages_sent_concurrently_reach_each_unit_once_across_reruns(
    engine: Engine, clock: FakeClock, http_receiver: HttpReceiver
) -> None:
    codes = [f"DEPT-{n:03d}" for n in range(130)]
    add_units(engine, {code: [http_receiver.json_url(f"/u/{code}")] for code in codes})
    queue(engine, codes)

    apprise_level = logging.getLogger("apprise").level
    run = deliver(engine, clock, http_receiver, concurrency=8)
    again = deliver(engine, clock, http_receiver, at=FRIDAY_10 + timedelta(hours=2))
    assert logging.getLogger("apprise").level == apprise_level  # set back after the run

    assert sorted(run.delivered) == sorted(set(run.delivered)) and len(run.delivered) == len(codes)
    assert run.attempts == len(codes) and again.attempts == 0 and not again.delivered
    for code in codes:
        assert len(http_receiver.received(f"/u/{code}")) == 1, code
    assert set(statuses(engine).values()) == {"delivered"}
    recorded = attempts(engine)
    assert len(recorded) == len(codes) and {a.outcome for a in recorded} == {"delivered"}
    assert all(a.attempted_at == FRIDAY_10 for a in recorded)  # the fake clock never moved
    with session_scope(engine) as session:
        sent_at = set(session.exec(select(Message.delivered_at)).all())
    assert sent_at == {FRIDAY_10}


@pytest.mark.db
@pytest.mark.http
def test_a_shared_robot_keeps_its_rate_limit_while_other_units_are_sent_concurrently(
    engine: Engine, clock: FakeClock, http_receiver: HttpReceiver
) -> None:
    robot = "dingtalk://sharedrobot0123456789/"
    county = [f"CTY-{n:02d}" for n in range(25)]
    departments = [f"DEPT-{n:02d}" for n in range(12)]
    add_units(engine, {code: [robot] for code in county})
    add_units(engine, {code: [http_receiver.json_url(f"/u/{code}")] for code in departments})
    queue(engine, county + departments)

    run = deliver(engine, clock, http_receiver, concurrency=8)

    assert len(run.delivered) == 37 and len(http_receiver.received(ROBOT_PATH)) == 25
    robot_times = sorted(a.attempted_at for a in attempts(engine) if a.channel.startswith("ding"))
    assert len(robot_times) == 25
    assert all(
        sum(1 for t in robot_times if s <= t < s + timedelta(seconds=60)) <= 20 for s in robot_times
    )
    assert clock.slept == [60.0]  # one wait, by the robot's lane only


def test_the_rate_limiter_is_thread_safe(clock: FakeClock) -> None:
    limiter = RateLimiter(monotonic=clock.monotonic, sleep=clock.sleep)
    url = "dingtalk://sharedrobot0123456789/"

    def send_fifteen() -> None:
        for _ in range(15):
            limiter.acquire(url)

    threads = [threading.Thread(target=send_fifteen) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 60 sends at 20 a minute: two waits of a minute, whatever the interleaving.
    assert clock.slept == [60.0, 60.0] and clock.now == 1120.0


@pytest.mark.db
@pytest.mark.http
def test_what_was_sent_before_a_failure_is_recorded_and_never_sent_again(
    engine: Engine, clock: FakeClock, http_receiver: HttpReceiver
) -> None:
    codes = [f"DEPT-{n:02d}" for n in range(20)]
    channels = {code: [http_receiver.json_url(f"/u/{code}")] for code in codes}
    channels["DEPT-BAD"] = [http_receiver.json_url("/broken")]
    add_units(engine, channels)
    http_receiver.script("/broken", (500, "down"))
    queue(engine, ["DEPT-BAD", *codes])

    def broken_sleep(seconds: float) -> None:
        raise RuntimeError("the clock broke")

    with pytest.raises(RuntimeError, match="the clock broke"):
        deliver(engine, clock, http_receiver, concurrency=4, sleep=broken_sleep)
    delivered_first = {c for c, s in statuses(engine).items() if s == "delivered"}
    assert delivered_first  # recorded although the run failed
    assert {a.message_id for a in attempts(engine) if a.outcome == "delivered"}

    run = deliver(engine, clock, http_receiver, concurrency=4)
    assert set(statuses(engine).values()) == {"delivered"}
    for code in codes:
        assert len(http_receiver.received(f"/u/{code}")) == 1, code
    assert len(run.delivered) == len(codes) + 1 - len(delivered_first)


def _row(n: int, status: str) -> OutboxRow:
    return OutboxRow(
        message_id=n,
        audience="unit",
        unit_code=f"U{n:05d}",
        unit_name=f"单位{n}",
        kind="monthly_analysis",
        period="2026-09",
        subject="【市考核办】2026年9月月度分析",
        status=status,
        correction=False,
        due_at=FRIDAY_10,
        delivered_at=FRIDAY_10 if status == "delivered" else None,
        attempts=1 if status != "pending" else 0,
        failed_attempts=1 if status == "failed" else 0,
        channels=(f"json://127.0.0.1:9/*** #{n:08x}",),
        last_error="HTTP 503 " + "x" * 500 if status == "failed" else "",
    )


def test_the_artifact_lists_a_capped_number_of_messages_at_province_scale() -> None:
    rows = [_row(n, ("pending", "delivered", "failed")[n % 3]) for n in range(20_000)]
    snapshot = OutboxSnapshot(day=date(2026, 10, 9), rows=tuple(rows))

    capped = render_outbox(snapshot, heading="###", limit=ARTIFACT_ROWS)
    full = render_outbox(snapshot)

    assert len(capped.encode()) < 100_000 < len(full.encode())
    assert "| 月度分析 | 6667 | 6667 | 6666 |" in capped  # counts cover every message
    assert "今日待发送（6667）" in capped and "发送失败（6666）" in capped
    assert capped.count("另有 6617 条未列出") == 2 and "另有 6616 条未列出" in capped
    assert "assess outbox --day 2026-10-09" in capped
    assert "U00002" in capped and "U19997" not in capped and "U19997" in full
    small = OutboxSnapshot(day=snapshot.day, rows=tuple(rows[:30]))
    assert render_outbox(small, limit=ARTIFACT_ROWS) == render_outbox(small)
