"""Exactly-once delivery: overlapping runs, two workers, a run killed mid-way.

Every message goes to a loopback receiver that counts the posts per unit. Runs
overlap as two threads (each with an engine of its own, gated so that both are
sending at once) or as two processes; a run is killed (SIGKILL) by the receiver
itself while a post is in flight, so that post's answer is lost.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prefect.cli.deploy._models import DeploymentConfig
from sqlalchemy import Engine
from sqlmodel import col, select

from models.persistence.database import make_engine, session_scope
from models.persistence.tables import DeliveryAttempt, Message, Unit
from models.rules.periods import SHANGHAI
from models.rules.workdays import WorkCalendar
from tasks.delivery import (
    DeliveryPolicy,
    DeliveryRun,
    Notifier,
    deliver_due,
    make_notifier,
    queue_digests,
)
from tasks.delivery import send_window as window_of
from tests.delivery.support import monthly_digest
from tests.fixtures.receivers import FakeClock, HttpReceiver, Received

pytestmark = [
    pytest.mark.db,
    pytest.mark.http,
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated"),  # apprise, on Python 3.11
]

ROOT = Path(__file__).resolve().parents[2]
FRIDAY_10 = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)


class CountingReceiver(HttpReceiver):
    """The loopback webhook receiver, with a hook told the number of posts so far on each
    post before it is answered (it may block that post: others are answered meanwhile)."""

    def __init__(self) -> None:
        super().__init__(on_post=self._on_post)
        self.hook: Callable[[int], None] | None = None

    def _on_post(self, _received: Received) -> None:
        hook = self.hook
        if hook is not None:
            hook(len(self.received()))

    def posts(self) -> Counter[str]:
        return Counter(r.path for r in self.received())


@pytest.fixture
def receiver() -> Iterator[CountingReceiver]:
    server = CountingReceiver().start()
    yield server
    server.stop()


def set_up_outbox(engine: Engine, receiver: HttpReceiver, count: int) -> list[str]:
    """``count`` units with one webhook channel each, and a monthly digest due for each."""
    codes = [f"DEPT-{n:03d}" for n in range(count)]
    with session_scope(engine) as session:
        for code in codes:
            session.add(
                Unit(
                    code=code,
                    name=f"单位{code}",
                    kind="department",
                    category="government",
                    channels=[receiver.json_url(f"/u/{code}")],
                )
            )
    with session_scope(engine) as session:
        queue_digests(
            session,
            [monthly_digest(code, f"单位{code}") for code in codes],
            now=FRIDAY_10,
            send_at_fn=window_of(WorkCalendar()),
        )
    return codes


def deliver(
    engine: Engine,
    *,
    factory: Callable[[str], Notifier] = make_notifier,
    concurrency: int = 4,
    lease_clock: Callable[[], datetime] | None = None,
    at: datetime = FRIDAY_10,
) -> DeliveryRun:
    clock = FakeClock()
    options = {} if lease_clock is None else {"lease_clock": lease_clock}
    with session_scope(engine) as session:
        return deliver_due(
            session,
            now=at,
            notifier_factory=factory,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
            concurrency=concurrency,
            **options,  # type: ignore[arg-type]
        )


def attempts(engine: Engine) -> list[DeliveryAttempt]:
    with session_scope(engine) as session:
        return list(session.exec(select(DeliveryAttempt).order_by(col(DeliveryAttempt.id))).all())


def statuses(engine: Engine) -> Counter[str]:
    with session_scope(engine) as session:
        return Counter(session.exec(select(Message.status)).all())


def message_of(engine: Engine, code: str) -> Message:
    with session_scope(engine) as session:
        return session.exec(
            select(Message)
            .join(Unit, col(Message.unit_id) == col(Unit.id))
            .where(Unit.code == code)
        ).one()


def start_child(db_url: str, concurrency: int) -> subprocess.Popen[str]:
    """A delivery run in a process of its own (``tests.hostile.delivery_child``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.hostile.delivery_child",
            db_url,
            FRIDAY_10.isoformat(),
            str(concurrency),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_on_post(receiver: CountingReceiver, db_url: str, post: int) -> None:
    """Run a delivery (one message at a time) in a child process and SIGKILL it when the
    receiver gets its ``post``-th post, before that post is answered."""
    ready = threading.Event()
    child: list[subprocess.Popen[str]] = []

    def kill(seen: int) -> None:
        if seen == post:
            ready.wait()
            child[0].send_signal(signal.SIGKILL)
            child[0].wait()

    receiver.hook = kill
    child.append(start_child(db_url, concurrency=1))
    ready.set()
    child[0].communicate()
    receiver.hook = None
    assert child[0].returncode == -signal.SIGKILL


# ------------------------------------------------------------------------------ tests


def test_two_outbox_runs_started_together_deliver_each_message_exactly_once(
    db_url: str, receiver: CountingReceiver
) -> None:
    engines = [make_engine(db_url), make_engine(db_url)]
    codes = set_up_outbox(engines[0], receiver, 40)
    both_sending = threading.Barrier(2, timeout=120)

    def gated(first_send: threading.Lock, opened: threading.Event) -> Callable[[str], Notifier]:
        """Each run's first post waits until the other run is about to post too."""

        def factory(url: str) -> Notifier:
            with first_send:
                if not opened.is_set():
                    both_sending.wait()
                    opened.set()
            return make_notifier(url)

        return factory

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(deliver, engine, factory=gated(threading.Lock(), threading.Event()))
                for engine in engines
            ]
            first, second = (future.result() for future in futures)
    finally:
        for engine in engines:
            engine.dispose()

    posts = receiver.posts()
    assert posts == Counter({f"/u/{code}": 1 for code in codes})
    assert first.delivered and second.delivered  # both runs really sent
    assert not set(first.delivered) & set(second.delivered)
    assert len(first.delivered) + len(second.delivered) == len(codes)
    assert first.attempts + second.attempts == len(codes)
    with_engine = make_engine(db_url)
    try:
        recorded = attempts(with_engine)
        assert len(recorded) == len(codes) and {a.outcome for a in recorded} == {"delivered"}
        assert not any(a.resend for a in recorded)
        assert statuses(with_engine) == Counter({"delivered": len(codes)})
    finally:
        with_engine.dispose()


def test_two_worker_processes_delivering_at_once_send_each_message_exactly_once(
    engine: Engine, db_url: str, receiver: CountingReceiver
) -> None:
    codes = set_up_outbox(engine, receiver, 40)
    # The first five posts are held until all five are in: a process has at most four in
    # flight, so both processes are sending at once.
    overlap = threading.Barrier(5, timeout=120)

    def hold_the_first_five(seen: int) -> None:
        if seen <= 5:
            overlap.wait()

    receiver.hook = hold_the_first_five
    children = [start_child(db_url, concurrency=4) for _ in range(2)]
    outputs = [child.communicate() for child in children]

    assert [child.returncode for child in children] == [0, 0], outputs
    assert receiver.posts() == Counter({f"/u/{code}": 1 for code in codes})
    recorded = attempts(engine)
    assert len(recorded) == len(codes) and {a.outcome for a in recorded} == {"delivered"}
    assert statuses(engine) == Counter({"delivered": len(codes)})


def test_a_delivery_killed_mid_way_and_run_again_sends_each_message_exactly_once(
    engine: Engine, db_url: str, receiver: CountingReceiver
) -> None:
    codes = set_up_outbox(engine, receiver, 12)

    kill_on_post(receiver, db_url, post=5)
    lost = receiver.received()[-1].path
    recorded_before = attempts(engine)
    assert len(recorded_before) == 4  # each answer committed before the next post
    assert {a.outcome for a in recorded_before} == {"delivered"}

    run = deliver(engine)  # at once: the killed run's lease has not expired

    assert receiver.posts() == Counter({f"/u/{code}": 1 for code in codes})
    assert len(run.delivered) == len(codes) - 5
    lost_message = message_of(engine, lost.removeprefix("/u/"))
    assert lost_message.id in run.held_elsewhere  # its answer was lost: left to its lease
    assert lost_message.status == "pending" and lost_message.lease_until is not None
    assert statuses(engine) == Counter({"delivered": len(codes) - 1, "pending": 1})
    again = deliver(engine)
    assert again.attempts == 0 and receiver.posts()[lost] == 1


def test_a_lease_expired_after_a_lost_answer_causes_exactly_one_logged_resend(
    engine: Engine, db_url: str, receiver: CountingReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    codes = set_up_outbox(engine, receiver, 8)
    kill_on_post(receiver, db_url, post=3)
    lost = receiver.received()[-1].path
    deliver(engine)  # the rest, before the lease expires

    def an_hour_later() -> datetime:
        return datetime.now(UTC) + timedelta(hours=1)

    with caplog.at_level(logging.WARNING, logger="tasks.delivery"):
        run = deliver(engine, lease_clock=an_hour_later)
        again = deliver(engine, lease_clock=an_hour_later)

    expected = Counter({f"/u/{code}": 1 for code in codes})
    expected[lost] = 2  # the post whose answer was lost, and its one resend
    assert receiver.posts() == expected
    assert run.attempts == 1 and len(run.delivered) == 1 and again.attempts == 0
    resends = [a for a in attempts(engine) if a.resend]
    assert len(resends) == 1
    assert resends[0].message_id == message_of(engine, lost.removeprefix("/u/")).id
    logged = [r.getMessage() for r in caplog.records if "resent to" in r.getMessage()]
    assert len(logged) == 1 and "lease" in logged[0] and "expired" in logged[0]
    assert statuses(engine) == Counter({"delivered": len(codes)})
    assert message_of(engine, lost.removeprefix("/u/")).lease_until is None


def test_a_run_whose_lease_runs_out_posts_nothing_more_and_the_next_run_sends_the_rest(
    engine: Engine, receiver: CountingReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    [code] = set_up_outbox(engine, receiver, 1)
    with session_scope(engine) as session:
        unit = session.exec(select(Unit).where(Unit.code == code)).one()
        unit.channels = [receiver.json_url("/first"), receiver.json_url("/second")]
        session.add(unit)
    started = datetime.now(UTC)
    late = [timedelta(0)]

    def lease_clock() -> datetime:
        return started + late[0]

    def slow_first_post(seen: int) -> None:
        late[0] = timedelta(minutes=15)  # the first post took most of the lease

    receiver.hook = slow_first_post
    with caplog.at_level(logging.WARNING, logger="tasks.delivery"):
        first = deliver(engine, lease_clock=lease_clock)
    receiver.hook = None

    assert receiver.posts() == Counter({"/first": 1})  # no post once the lease nearly ended
    assert first.partial and any("lease ends soon" in r.getMessage() for r in caplog.records)
    message = message_of(engine, code)
    assert message.status == "partial" and message.lease_until is None  # released
    later = deliver(engine, at=FRIDAY_10 + timedelta(hours=2))
    assert later.delivered and receiver.posts() == Counter({"/first": 1, "/second": 1})


@pytest.mark.parametrize("lease_minutes", [0, 1])
def test_a_lease_too_short_to_post_once_is_refused(lease_minutes: int) -> None:
    with pytest.raises(ValueError, match="lease must be longer"):
        DeliveryPolicy(lease=timedelta(minutes=lease_minutes))


def test_the_outbox_deployment_runs_one_at_a_time() -> None:
    data = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    [outbox] = [
        d
        for d in data["deployments"]
        if d["entrypoint"] == "flows/deliver_outbox.py:deliver_outbox"
    ]
    config = DeploymentConfig.model_validate(outbox)
    assert config.concurrency_limit is not None and not isinstance(config.concurrency_limit, int)
    assert config.concurrency_limit.limit == 1
    assert config.concurrency_limit.collision_strategy == "CANCEL_NEW"
