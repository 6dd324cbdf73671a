"""Claiming a (cycle, period) and recording how the run ended, and the Prefect tasks doing it.

Runs of one cycle for one year are put in order by period. A backfill that hands
several periods to several workers first *queues* them (``queue_cycles``: a claim
row with status ``queued``, in one transaction); a run then waits while an earlier
period of its cycle and year is queued or running (``blocking_period``), so the
periods are computed in the same order, and book the same ledgers, as one by one.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.persistence.database import session_scope
from models.persistence.tables import AssessmentYear, CycleRun
from models.rules.cycle_runs import (
    CLAIM_STATUSES,
    STALE_AFTER,
    CycleStatus,
    HolderFacts,
    HolderVerdict,
    judge_holder,
)
from tasks.runtime import Runtime


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: ``claimed`` (do the work) or ``done`` (a no-op)."""

    run_id: int
    outcome: str  # "claimed" | "reclaimed" | "done" | "busy"
    status: str
    holder: str | None = None  # busy: who holds it (flow run, since when)

    @property
    def should_run(self) -> bool:
        return self.outcome in ("claimed", "reclaimed")


def claim_cycle(
    session: Session,
    cycle: str,
    period: str,
    now: datetime,
    flow_run_id: str | None = None,
    *,
    force: bool = False,
    process: dict[str, Any] | None = None,
) -> Claim:
    """Claim ``(cycle, period)``; a completed one is a no-op unless ``force``.

    A queued, failed or partial earlier run is claimed again. A run already
    ``running`` (another worker) is reported ``busy`` unless ``force``. The claim
    also freezes the year's rules on its first cycle. ``process`` (host and pid of
    the claiming process) is kept in the claim's summary while it runs, so that a
    holder killed outright can be told from a live one (`release_dead_holder`).
    """
    held = {"holder": process} if process else {}
    existing = session.exec(
        select(CycleRun).where(CycleRun.cycle == cycle, CycleRun.period == period)
    ).first()
    if existing is None:
        run = CycleRun(
            cycle=cycle,
            period=period,
            status=CycleStatus.RUNNING,
            flow_run_id=flow_run_id,
            claimed_at=now,
            summary=held,
        )
        session.add(run)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return claim_cycle(
                session, cycle, period, now, flow_run_id, force=force, process=process
            )
        _freeze_year(session, int(period[:4]), now)
        assert run.id is not None
        return Claim(run.id, "claimed", run.status)
    assert existing.id is not None
    if existing.status in (CycleStatus.COMPLETED, CycleStatus.RUNNING) and not force:
        busy = existing.status == CycleStatus.RUNNING
        holder = f"{existing.flow_run_id or '?'}@{existing.claimed_at.isoformat()}"
        return Claim(
            existing.id, "busy" if busy else "done", existing.status, holder if busy else None
        )
    first = existing.status == CycleStatus.QUEUED and existing.attempts == 0
    kept = _failures(existing)  # before the attempt is overwritten
    existing.status = CycleStatus.RUNNING
    existing.flow_run_id = flow_run_id
    existing.claimed_at = now
    existing.finished_at = None
    existing.attempts += 1
    existing.summary = {**held, **kept}
    session.add(existing)
    session.flush()
    if first:
        _freeze_year(session, int(period[:4]), now)
    return Claim(existing.id, "claimed" if first else "reclaimed", existing.status)


def queue_cycles(session: Session, cycle: str, periods: Sequence[str], now: datetime) -> list[str]:
    """Mark ``periods`` of ``cycle`` as queued before their runs start; return those queued.

    A period without a claim gets a ``queued`` one; a failed or partial one, or a
    completed one (a forced rerun), becomes ``queued`` again. One already running
    is left to its run.
    """
    existing = {
        row.period: row
        for row in session.exec(
            select(CycleRun).where(CycleRun.cycle == cycle, CycleRun.period.in_(periods))  # type: ignore[attr-defined]
        )
    }
    queued: list[str] = []
    for period in periods:
        row = existing.get(period)
        if row is None:
            row = CycleRun(
                cycle=cycle, period=period, status=CycleStatus.QUEUED, claimed_at=now, attempts=0
            )
        elif row.status == CycleStatus.RUNNING:
            continue
        else:
            row.status = CycleStatus.QUEUED
            row.claimed_at = now
            row.finished_at = None
            row.flow_run_id = None  # the run that will take it is not known yet
        session.add(row)
        queued.append(period)
    session.flush()
    return queued


@dataclass(frozen=True)
class Blocker:
    """An earlier period a run waits for."""

    period: str
    status: str
    claimed_at: datetime
    flow_run_id: str | None


def blocking_period(session: Session, cycle: str, period: str, now: datetime) -> Blocker | None:
    """The earliest period of ``cycle`` in ``period``'s year, before it, that is queued or
    running (and not stale): the run of ``period`` waits for it."""
    rows = session.exec(
        select(CycleRun)
        .where(
            CycleRun.cycle == cycle,
            CycleRun.period.startswith(period[:4]),
            CycleRun.period < period,
            CycleRun.status.in_(tuple(CLAIM_STATUSES)),  # type: ignore[attr-defined]
        )
        .order_by(CycleRun.period)
    )
    for row in rows:
        if now - row.claimed_at <= STALE_AFTER:
            return Blocker(row.period, row.status, row.claimed_at, row.flow_run_id)
    return None


def _freeze_year(session: Session, year: int, now: datetime) -> None:
    row = session.get(AssessmentYear, year)
    if row is not None and row.frozen_at is None:
        row.frozen_at = now
        session.add(row)


def finish_cycle(
    session: Session, run_id: int, status: str, summary: dict[str, Any], now: datetime
) -> None:
    run = session.get(CycleRun, run_id)
    if run is None:
        raise LookupError(f"cycle run {run_id} does not exist")
    run.status = status
    run.summary = {**summary, **_failures(run)}
    run.finished_at = now
    session.add(run)


def fail_cycle_runs_of(session: Session, flow_run_id: str, error: str, now: datetime) -> int:
    """Mark ``failed`` (with ``error``) every claim the flow run still holds; how many."""
    rows = session.exec(
        select(CycleRun).where(
            CycleRun.flow_run_id == flow_run_id, CycleRun.status == CycleStatus.RUNNING
        )
    ).all()
    return sum(release_claim(session, row, error, now) for row in rows)


def fail_flow_run_claims(engine: Engine, flow_run_id: str, error: str, now: datetime) -> int:
    """`fail_cycle_runs_of` in its own transaction (the cycle flows' failure hook)."""
    with session_scope(engine) as session:
        return fail_cycle_runs_of(session, flow_run_id, error, now)


def release_claim(session: Session, row: CycleRun, reason: str, now: datetime) -> bool:
    """Mark ``row``'s claim failed (``reason``) if it is still the same running claim
    (earlier failed attempts stay listed).

    Compare-and-set on status, flow run and claim time: a holder that finished (or a
    run that claimed again) meanwhile is left alone.
    """
    result = session.execute(
        update(CycleRun)
        .where(
            CycleRun.id == row.id,  # type: ignore[arg-type]
            CycleRun.status == CycleStatus.RUNNING,  # type: ignore[arg-type]
            CycleRun.flow_run_id == row.flow_run_id  # type: ignore[arg-type]
            if row.flow_run_id is not None
            else CycleRun.flow_run_id.is_(None),  # type: ignore[union-attr]
            CycleRun.claimed_at == row.claimed_at,  # type: ignore[arg-type]
        )
        .values(
            status=CycleStatus.FAILED,
            summary={"error": reason, **_failures(row)},
            finished_at=now,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def this_process() -> dict[str, Any]:
    """Host and pid of the running process: recorded in the claims it holds."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is alive (a zombie is not)."""
    proc = Path("/proc")
    if proc.is_dir():
        try:
            stat = (proc / str(pid) / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return False
        return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fetch_flow_run_state(flow_run_id: str | None) -> str | None:
    """The Prefect state type of a flow run (``RUNNING``...), ``MISSING``, or ``None``
    when there is no run id or Prefect cannot be asked."""
    if not flow_run_id:
        return None
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        run_uuid = UUID(flow_run_id)
    except ValueError:
        return "MISSING"
    try:
        with get_client(sync_client=True) as client:
            flow_run = client.read_flow_run(run_uuid)
    except ObjectNotFound:
        return "MISSING"
    except Exception:  # no answer from Prefect: judge on the other facts
        return None
    return flow_run.state.type.value if flow_run.state else None


def gather_holder_facts(row: CycleRun) -> HolderFacts:
    """The facts `judge_holder` needs about the run holding ``row``."""
    holder = row.summary.get("holder") if isinstance(row.summary, dict) else None
    host = holder.get("host") if isinstance(holder, dict) else None
    pid = holder.get("pid") if isinstance(holder, dict) else None
    local = isinstance(pid, int) and host == socket.gethostname()
    return HolderFacts(
        claimed_at=row.claimed_at,
        flow_run_id=row.flow_run_id,
        flow_run_state=fetch_flow_run_state(row.flow_run_id),
        host=host if isinstance(host, str) else None,
        pid=pid if isinstance(pid, int) else None,
        pid_alive=pid_alive(pid) if local and isinstance(pid, int) else None,
    )


def release_dead_holder(
    engine: Engine, cycle: str, period: str, now: datetime
) -> HolderVerdict | None:
    """Judge the run holding ``(cycle, period)`` running; release (fail) it when gone.

    ``None`` when no running claim exists. The verdict says why it was released or
    who holds it.
    """
    verdicts = release_dead_holders(engine, cycle, now, period)
    return verdicts[0] if verdicts else None


def release_dead_holders(
    engine: Engine, cycle: str, now: datetime, period: str | None = None
) -> list[HolderVerdict]:
    """Judge every running claim of ``cycle`` (or of its ``period``); fail those whose
    holder is gone (`judge_holder`), so that a rerun or a backfill sees them at once."""
    with session_scope(engine) as session:
        query = select(CycleRun).where(
            CycleRun.cycle == cycle, CycleRun.status == CycleStatus.RUNNING
        )
        if period is not None:
            query = query.where(CycleRun.period == period)
        rows = list(session.exec(query))
        for row in rows:
            session.expunge(row)
    verdicts = []
    for row in rows:
        verdict = judge_holder(gather_holder_facts(row), now)
        if verdict.release:
            with session_scope(engine) as session:
                if release_claim(session, row, verdict.reason, now):
                    _logger().warning(
                        "%s %s: released the claim of flow run %s: %s",
                        cycle, row.period, row.flow_run_id, verdict.reason,
                    )  # fmt: skip
        verdicts.append(verdict)
    return verdicts


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger inside a flow or task run, this module's outside one."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


@task(name="release-dead-holders", cache_policy=NO_CACHE)
def release_dead_holders_task(runtime: Runtime, cycle: str, now: datetime) -> int:
    """`release_dead_holders` for a whole cycle; how many claims were released."""
    return sum(v.release for v in release_dead_holders(runtime.engine, cycle, now))


def _failures(run: CycleRun) -> dict[str, Any]:
    """The failed attempts a claim has seen (``{"failures": [...]}``, or nothing): kept
    through reruns, so a period that ended well still shows a crash before it."""
    summary = run.summary if isinstance(run.summary, dict) else {}
    failures = list(summary.get("failures", []))
    if "error" in summary:  # left by `fail_cycle_runs_of` / `release_claim`
        at = run.finished_at.isoformat() if run.finished_at else None
        failures.append({"attempt": run.attempts, "error": summary["error"], "at": at})
    return {"failures": failures} if failures else {}


def load_cycle_statuses(session: Session, cycle: str) -> dict[str, str]:
    """Each claimed period of ``cycle`` and its status."""
    rows = session.exec(select(CycleRun.period, CycleRun.status).where(CycleRun.cycle == cycle))
    return {period: status for period, status in rows}


# ----------------------------------------------------------------------------- tasks


WAIT_POLL_SECONDS = 2.0
WAIT_TIMEOUT_SECONDS = 2 * 3600.0


class WaitedTooLong(RuntimeError):
    """An earlier period stayed queued or running for longer than the run may wait."""


@task(name="claim-cycle", cache_policy=NO_CACHE)
def claim_cycle_task(
    runtime: Runtime,
    cycle: str,
    period: str,
    now: datetime,
    flow_run_id: str | None,
    force: bool = False,
    wait_timeout: float = WAIT_TIMEOUT_SECONDS,
) -> Claim:
    """Claim ``(cycle, period)`` once no earlier period of its year is queued or running.

    A running claim whose holder is gone (`judge_holder`) is released first, so the
    run proceeds at once after a crash.
    """
    wait_for_earlier_periods(runtime.engine, cycle, period, now, wait_timeout)
    if not force:
        release_dead_holder(runtime.engine, cycle, period, now)
    with session_scope(runtime.engine) as session:
        return claim_cycle(
            session, cycle, period, now, flow_run_id, force=force, process=this_process()
        )


def wait_for_earlier_periods(
    engine: Engine, cycle: str, period: str, now: datetime, timeout: float
) -> None:
    """Poll until no earlier period of the year blocks ``period`` (see ``tasks.cycle_runs``)."""
    logger = get_run_logger()
    started = time.monotonic()
    shown: Blocker | None = None
    while True:
        with session_scope(engine) as session:
            blocker = blocking_period(session, cycle, period, now)
        if blocker is not None and blocker.status == CycleStatus.RUNNING:
            verdict = release_dead_holder(engine, cycle, blocker.period, now)
            if verdict is None or verdict.release:
                continue  # released (or finished meanwhile): look again
        if blocker is None:
            if shown is not None:
                logger.info("%s %s: earlier periods done, going on", cycle, period)
            return
        if shown is None or blocker.period != shown.period:
            logger.info(
                "%s %s waits for %s (%s since %s, flow run %s)",
                cycle, period, blocker.period, blocker.status,
                blocker.claimed_at.isoformat(), blocker.flow_run_id or "not started",
            )  # fmt: skip
            shown = blocker
        if time.monotonic() - started > timeout:
            raise WaitedTooLong(
                f"{cycle} {period}: {blocker.period} is still {blocker.status} after "
                f"{timeout:.0f}s (flow run {blocker.flow_run_id or 'not started'}); "
                "finish or fail that run, then run this period again"
            )
        time.sleep(WAIT_POLL_SECONDS)


@task(name="queue-cycles", cache_policy=NO_CACHE)
def queue_cycles_task(runtime: Runtime, cycle: str, periods: list[str], now: datetime) -> list[str]:
    with session_scope(runtime.engine) as session:
        return queue_cycles(session, cycle, periods, now)


@task(name="finish-cycle", cache_policy=NO_CACHE)
def finish_cycle_task(
    runtime: Runtime, run_id: int, status: str, summary: dict[str, Any], now: datetime
) -> None:
    with session_scope(runtime.engine) as session:
        finish_cycle(session, run_id, status, summary, now)
