"""Claiming a (cycle, period) and recording how the run ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.tables import AssessmentYear, CycleRun

DONE = "completed"


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: ``claimed`` (do the work) or ``done`` (a no-op)."""

    run_id: int
    outcome: str  # "claimed" | "reclaimed" | "done" | "busy"
    status: str

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
) -> Claim:
    """Claim ``(cycle, period)``; a completed one is a no-op unless ``force``.

    A failed or partial earlier run is claimed again. A run already ``running``
    (another worker) is reported ``busy`` unless ``force``. The claim also freezes
    the year's rules on its first cycle.
    """
    existing = session.exec(
        select(CycleRun).where(CycleRun.cycle == cycle, CycleRun.period == period)
    ).first()
    if existing is None:
        run = CycleRun(
            cycle=cycle, period=period, status="running", flow_run_id=flow_run_id, claimed_at=now
        )
        session.add(run)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return claim_cycle(session, cycle, period, now, flow_run_id, force=force)
        _freeze_year(session, int(period[:4]), now)
        assert run.id is not None
        return Claim(run.id, "claimed", run.status)
    assert existing.id is not None
    if (existing.status == DONE or existing.status == "running") and not force:
        return Claim(existing.id, "done" if existing.status == DONE else "busy", existing.status)
    existing.status = "running"
    existing.flow_run_id = flow_run_id
    existing.claimed_at = now
    existing.finished_at = None
    existing.attempts += 1
    session.add(existing)
    session.flush()
    return Claim(existing.id, "reclaimed", existing.status)


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
    run.summary = summary
    run.finished_at = now
    session.add(run)


def load_cycle_statuses(session: Session, cycle: str) -> dict[str, str]:
    """Each claimed period of ``cycle`` and its status."""
    rows = session.exec(select(CycleRun.period, CycleRun.status).where(CycleRun.cycle == cycle))
    return {period: status for period, status in rows}
