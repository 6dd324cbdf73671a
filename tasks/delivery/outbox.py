"""The delivery run: `deliver_due` sends every due message of the outbox.

- Due: `load_due_messages` (pending messages due by now, and failed or partly
  delivered ones whose last attempt is ``DeliveryPolicy.retry_after`` old), unit
  messages first, then office messages (the alerts this run raised too); read
  `IN_CHUNK` at a time by the calling thread.
- Sent: one `tasks.delivery.sending` send per message, up to `DEFAULT_CONCURRENCY`
  messages at once on a thread pool (messages sharing a rate-limited robot one after
  another, so a robot's wait holds one worker).
- Exactly once: each worker claims a message just before sending it
  (`tasks.delivery.lease`), commits each channel's answer before it posts or waits
  again, and writes the status (`tasks.delivery.settling`) and releases the message
  in one transaction, on a connection of its own. Overlapping runs and workers never
  send a message both; after a crash only a post whose answer was lost is sent
  again, once its lease expired, marked ``resend``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlmodel import Session, col, select

from models.messages import AttemptOutcome, MessageStatus
from models.persistence.tables import Message
from models.rules import WorkCalendar
from tasks.delivery.lease import (
    Bookkeeping,
    LeaseSeen,
    claim,
    insert_attempts,
    new_holder,
    release,
    settle,
    wall_clock,
)
from tasks.delivery.log_guard import guarded_logs
from tasks.delivery.rate_limits import RateLimiter
from tasks.delivery.reads import (
    IN_CHUNK,
    OFFICE,
    AttemptLike,
    OutgoingMessage,
    PastAttempt,
    UnitInfo,
    attempts_by_message,
    chunks,
    due_ids,
    load_outgoing,
    load_units,
    with_appeal_deadline,
)
from tasks.delivery.robots import NotifierFactory, load_plugins, make_notifier
from tasks.delivery.sending import (
    DEFAULT_POLICY,
    Checkpoints,
    DeliveryPolicy,
    SendResult,
    send_guarded,
)
from tasks.delivery.settling import raise_alert, settle_round

__all__ = ["DEFAULT_CONCURRENCY", "DeliveryRun", "deliver_due", "load_due_messages"]

log = logging.getLogger(__name__)


@dataclass
class DeliveryRun:
    """What one `deliver_due` call did (message ids per outcome)."""

    delivered: list[int] = field(default_factory=list)
    partial: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    undeliverable: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)
    waiting_for_channels: list[int] = field(default_factory=list)
    held_elsewhere: list[int] = field(default_factory=list)
    """Due messages left alone: another delivery run held or claimed them."""
    attempts: int = 0

    def record(self, status: str, message_id: int) -> None:
        """Count the message under its status after a round."""
        outcomes = {
            "delivered": self.delivered,
            "partial": self.partial,
            "failed": self.failed,
            "undeliverable": self.undeliverable,
        }
        outcomes[status].append(message_id)

    def counts(self) -> dict[str, int]:
        return {
            "delivered": len(self.delivered),
            "partial": len(self.partial),
            "failed": len(self.failed),
            "undeliverable": len(self.undeliverable),
            "alerts": len(self.alerts),
            "waiting_for_channels": len(self.waiting_for_channels),
            "held_elsewhere": len(self.held_elsewhere),
            "attempts": self.attempts,
        }


def load_due_messages(
    session: Session, now: datetime, policy: DeliveryPolicy = DEFAULT_POLICY
) -> list[Message]:
    """Messages to send at `now`: pending ones due by now, and failed or partly delivered
    ones whose last attempt is at least ``policy.retry_after`` old. Unit messages first."""
    due = due_ids(session, now, policy.retry_after)
    loaded: dict[int, Message] = {}
    for chunk in chunks([d.id for d in due]):
        for message in session.exec(select(Message).where(col(Message.id).in_(chunk))).all():
            if message.id is not None:
                loaded[message.id] = message
    return [loaded[d.id] for d in due if d.id in loaded]


DEFAULT_CONCURRENCY = 8
"""Messages `deliver_due` sends at once (each message's channels one after another)."""
_LOAD_BATCH = IN_CHUNK
"""Due messages (bodies included) read at a time."""


@dataclass(frozen=True)
class _Job:
    """One message to send in a delivery run."""

    seq: int
    message: OutgoingMessage
    channels: tuple[str, ...]
    history: tuple[PastAttempt, ...]
    unit: UnitInfo | None
    seen: LeaseSeen
    """The message's lease when it was read: its claim must find it unchanged."""


_Send = Callable[[_Job, Checkpoints], SendResult]


class _Delivery:
    """One `deliver_due` run: loads due messages in batches (calling thread) and sends
    them on a thread pool. Each worker claims a message just before sending it,
    commits each answer as it comes, and writes the message's status and releases it
    once its channels are done, on a connection of its own."""

    def __init__(
        self,
        session: Session,
        *,
        engine: Engine,
        now: datetime,
        ops_channels: Sequence[str],
        send: _Send,
        limiter: RateLimiter,
        policy: DeliveryPolicy,
        pool: ThreadPoolExecutor,
        concurrency: int,
        holder: str,
        lease_clock: Callable[[], datetime],
        calendar: WorkCalendar,
    ) -> None:
        self.session = session
        self.calendar = calendar
        self.engine = engine
        self.now = now
        self.ops_channels = tuple(ops_channels)
        self.send = send
        self.limiter = limiter
        self.policy = policy
        self.pool = pool
        self.concurrency = concurrency
        self.holder = holder
        self.lease_clock = lease_clock
        self.run = DeliveryRun()
        self._seq = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.connections: list[Connection] = []

    def deliver(self, ids: Sequence[int], audience: str) -> None:
        """Send the messages ``ids`` (all of ``audience``), at most ``concurrency`` lanes
        at a time. A failure (a bug: sending never raises for a channel's refusal) stops
        new sends; what was answered is recorded before it is raised."""
        batches = iter(chunks(ids, _LOAD_BATCH))
        lanes: deque[list[_Job]] = deque()
        in_flight: set[Future[BaseException | None]] = set()
        error: BaseException | None = None
        while True:
            while error is None and len(lanes) < self.concurrency:
                batch = next(batches, None)
                if batch is None:
                    break
                lanes.extend(self._lanes(self._jobs(batch, audience)))
            while error is None and lanes and len(in_flight) < self.concurrency:
                in_flight.add(self.pool.submit(self._send_lane, lanes.popleft()))
            if not in_flight:
                break
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                error = error or future.result()
        if error is not None:
            raise error

    def _jobs(self, ids: Sequence[int], audience: str) -> list[_Job]:
        self.session.commit()  # read what other runs committed since
        loaded = load_outgoing(self.session, ids)
        at = self.lease_clock()
        held = [message.id for message, seen in loaded if seen.held_at(at)]
        if held:
            self.run.held_elsewhere.extend(held)
            log.info("%d due messages held by another delivery run: left to it", len(held))
        loaded = [(message, seen) for message, seen in loaded if not seen.held_at(at)]
        units = load_units(self.session, {m.unit_id for m, _ in loaded if m.unit_id is not None})
        histories = attempts_by_message(self.session, [m.id for m, _ in loaded])
        jobs = []
        for message, seen in loaded:
            message = with_appeal_deadline(message, self.calendar, self.now)
            unit = units.get(message.unit_id) if message.unit_id is not None else None
            if audience == OFFICE:
                channels = self.ops_channels
                if not channels:
                    log.error("office message %s waits: no operations channel set", message.id)
                    self.run.waiting_for_channels.append(message.id)
                    continue
            else:
                channels = unit.channels if unit is not None else ()
            self._seq += 1
            jobs.append(
                _Job(self._seq, message, channels, tuple(histories.get(message.id, ())), unit, seen)
            )
        return jobs

    def _lanes(self, jobs: Sequence[_Job]) -> list[list[_Job]]:
        """Jobs sent one after another: those sharing a rate-limited channel (so a robot's
        wait holds one worker, not all), each of the others alone."""
        lanes: dict[object, list[_Job]] = {}
        for job in jobs:
            key: object = next(
                (k for k in map(self.limiter.limited_key, job.channels) if k is not None),
                job.seq,
            )
            lanes.setdefault(key, []).append(job)
        return list(lanes.values())

    def _connection(self) -> Connection:
        """This worker thread's connection (opened on first use, closed by the caller)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.engine.connect()
            self._local.conn = conn
            with self._lock:
                self.connections.append(conn)
        return conn

    def _send_lane(self, lane: Sequence[_Job]) -> BaseException | None:
        """Runs in a worker thread: claims, sends and records each job of the lane."""
        for job in lane:
            try:
                self._deliver_one(job)
            except BaseException as exc:  # raised by the caller
                return exc
        return None

    def _deliver_one(self, job: _Job) -> None:
        message = job.message
        conn = self._connection()
        at = self.lease_clock()
        until = at + self.policy.lease
        if not claim(
            conn, message.id, holder=self.holder, seen=job.seen, now=self.now, at=at, until=until
        ):
            log.info("message %s left alone: another delivery run claimed it", message.id)
            with self._lock:
                self.run.held_elsewhere.append(message.id)
            return
        takeover = job.seen if job.seen.abandoned_at(at) else None
        if takeover is not None:
            # Its last holder may have recorded an answer after this run read the history.
            history = attempts_by_message(conn, [message.id]).get(message.id, [])
            conn.rollback()
            job = replace(job, history=tuple(history))
        books = Bookkeeping(
            conn, message.id, until=until, lease_clock=self.lease_clock, takeover=takeover
        )
        try:
            result = self.send(job, books)
        except BaseException:
            try:
                books.flush()
                release(conn, message.id, holder=self.holder)
            except Exception:
                log.exception(
                    "message %s: could not record its answers after a failure", message.id
                )
            raise
        self._record(conn, job, result, books)

    def _record(self, conn: Connection, job: _Job, result: SendResult, books: Bookkeeping) -> None:
        """Write the answers not yet written and the message's status, release it, raise
        its office alert if it is undeliverable: one transaction."""
        message = job.message
        history: list[AttemptLike] = [*job.history, *result.attempts]
        with self._lock:
            self.run.attempts += len(result.attempts)
            status, delivered_at = settle_round(message, job.channels, history, result, self.policy)
            self.run.record(status, message.id)
        with conn.begin():
            insert_attempts(conn, books.take())
            if not settle(
                conn, message.id, holder=self.holder, status=status, delivered_at=delivered_at
            ):
                log.warning(
                    "message %s: its lease ended while it was sent; its answers are recorded, "
                    "its status is left to the run that holds it now",
                    message.id,
                )
                return
            if status != MessageStatus.UNDELIVERABLE or message.audience == OFFICE:
                return
            with Session(bind=conn) as session:
                alert = raise_alert(session, message, job.unit, history, job.channels, self.now)
                alert_id = None if alert is None else alert.id
        if alert_id is not None:
            with self._lock:
                self.run.alerts.append(alert_id)
            log.error(
                "unit %s unreachable for message %s: office alerted",
                job.unit.code if job.unit else "?",
                message.id,
            )

    def close(self) -> None:
        for conn in self.connections:
            conn.close()


def deliver_due(
    session: Session,
    *,
    now: datetime,
    ops_channels: Sequence[str] = (),
    notifier_factory: NotifierFactory = make_notifier,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    rate_limiter: RateLimiter | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    concurrency: int = DEFAULT_CONCURRENCY,
    lease_clock: Callable[[], datetime] = wall_clock,
    holder: str | None = None,
    calendar: WorkCalendar | None = None,
) -> DeliveryRun:
    """Send every due message: unit messages first, then office messages (new alerts too).

    Up to ``concurrency`` messages are sent at once, each as `send_message` sends it;
    messages sharing a rate-limited channel go one after another (the limit holds
    across threads either way). Each message is claimed just before it is sent (a
    lease of ``policy.lease`` on ``lease_clock``, see `tasks.delivery.lease`), so runs
    that overlap (two schedules, two workers) never send it both; each channel's answer
    is committed before anything else is posted, and the message's status written and
    its lease released as soon as its channels are done. A rerun never sends a message
    twice to a channel whose answer was recorded; a message whose answer was lost (the
    run died between a post and its commit) is sent again once its lease expired, once,
    marked ``resend``. An appeal deadline counted from delivery is filled in as each
    message is sent (``calendar``: the office's working days, the runtime's; the
    national calendar when not given).
    The caller decides whether the send window is open; ``session``
    is committed. ``notifier_factory``, ``sleep``, ``monotonic`` and ``lease_clock`` are
    called from worker threads, each of which uses a connection of its own.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    session.commit()  # nothing of the caller's may hold a write lock while workers write
    limiter = rate_limiter or RateLimiter(monotonic=monotonic, sleep=sleep)
    origin = monotonic()
    load_plugins()  # Apprise loads its plugins on first use: here, not in a worker
    delivery: _Delivery | None = None
    try:
        with (
            guarded_logs() as guard,
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="deliver") as pool,
        ):

            def send(job: _Job, books: Checkpoints) -> SendResult:
                return send_guarded(
                    job.message,
                    job.channels,
                    now=now,
                    notifier_factory=notifier_factory,
                    sleep=sleep,
                    monotonic=monotonic,
                    rate_limiter=limiter,
                    policy=policy,
                    skip_channels={
                        a.channel for a in job.history if a.outcome == AttemptOutcome.DELIVERED
                    },
                    clock_origin=origin,
                    guard=guard,
                    checkpoints=books,
                )

            delivery = _Delivery(
                session,
                engine=engine,
                now=now,
                ops_channels=ops_channels,
                send=send,
                limiter=limiter,
                policy=policy,
                pool=pool,
                concurrency=concurrency,
                holder=holder or new_holder(),
                lease_clock=lease_clock,
                calendar=calendar or WorkCalendar(),
            )
            for audience in ("unit", OFFICE):
                session.commit()  # see the alerts the unit messages raised
                due = [
                    d.id
                    for d in due_ids(session, now, policy.retry_after)
                    if d.audience == audience
                ]
                delivery.deliver(due, audience)
    finally:
        if delivery is not None:
            delivery.close()
    session.commit()
    return delivery.run
