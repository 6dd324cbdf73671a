"""Prefect tasks of the cycle flows: small, typed, one unit of work each.

Tasks with side effects use ``NO_CACHE``; results stay in our tables, tasks return
plain data. The database engine comes from the settings (one per process and URL).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx
from prefect import get_run_logger, task
from prefect.artifacts import (
    acreate_progress_artifact,
    aupdate_progress_artifact,
)
from prefect.cache_policies import NO_CACHE

from models.catalog.vocabulary import CATEGORY_LABELS
from models.persistence.database import session_scope
from models.plans.recompute import plan_monthly_analysis_with_rulings
from models.plans.reports import MonthReport, month_report
from models.rules import Period
from tasks.appeals.reads import load_standing_rulings
from tasks.collect import CollectOutcome, collect_progress
from tasks.cycles import Blocker, Claim, blocking_period, claim_cycle, finish_cycle, queue_cycles
from tasks.digest_tasks import queue_monthly_digests
from tasks.locks import category_lock, share
from tasks.monthly import load_month_snapshot, save_month_plan, unit_batches
from tasks.platform import PlatformClient
from tasks.runtime import batch_concurrency, database, work_calendar
from tasks.settings import get_settings

__all__ = [
    "analyse_batch_task",
    "batch_concurrency",
    "claim_cycle_task",
    "collect_progress_task",
    "database",
    "finish_cycle_task",
    "queue_cycles_task",
    "unit_batches_task",
    "work_calendar",
]


WAIT_POLL_SECONDS = 2.0
WAIT_TIMEOUT_SECONDS = 2 * 3600.0


class WaitedTooLong(RuntimeError):
    """An earlier period stayed queued or running for longer than the run may wait."""


@task(name="claim-cycle", cache_policy=NO_CACHE)
def claim_cycle_task(
    cycle: str,
    period: str,
    now: datetime,
    flow_run_id: str | None,
    force: bool = False,
    wait_timeout: float = WAIT_TIMEOUT_SECONDS,
) -> Claim:
    """Claim ``(cycle, period)`` once no earlier period of its year is queued or running."""
    wait_for_earlier_periods(cycle, period, now, wait_timeout)
    with session_scope(database()) as session:
        return claim_cycle(session, cycle, period, now, flow_run_id, force=force)


def wait_for_earlier_periods(cycle: str, period: str, now: datetime, timeout: float) -> None:
    """Poll until no earlier period of the year blocks ``period`` (see ``tasks.cycles``)."""
    logger = get_run_logger()
    started = time.monotonic()
    shown: Blocker | None = None
    while True:
        with session_scope(database()) as session:
            blocker = blocking_period(session, cycle, period, now)
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
def queue_cycles_task(cycle: str, periods: list[str], now: datetime) -> list[str]:
    with session_scope(database()) as session:
        return queue_cycles(session, cycle, periods, now)


@task(name="finish-cycle", cache_policy=NO_CACHE)
def finish_cycle_task(run_id: int, status: str, summary: dict[str, Any], now: datetime) -> None:
    with session_scope(database()) as session:
        finish_cycle(session, run_id, status, summary, now)


@task(name="collect-progress", cache_policy=NO_CACHE)
def collect_progress_task(period: str, now: datetime) -> CollectOutcome:
    """Collect one month from the platform, with a progress artifact while it runs."""
    return asyncio.run(_collect_with_progress(Period.parse(period), now))


async def _collect_with_progress(month: Period, now: datetime) -> CollectOutcome:
    settings = get_settings()
    artifact_id = await acreate_progress_artifact(
        progress=0.0, description=f"采集 {month.key} 平台填报数据"
    )
    shown = [0.0]
    updates: list[asyncio.Task[Any]] = []

    def on_page(_pages: int, records: int, expected: int) -> None:
        share = 99.0 if expected <= 0 else min(99.0, 100.0 * records / expected)
        if share - shown[0] >= 5.0:  # a handful of updates, not one per page
            shown[0] = share
            updates.append(asyncio.create_task(aupdate_progress_artifact(artifact_id, share)))

    async with httpx.AsyncClient(base_url=settings.platform_url, timeout=30) as http:
        client = PlatformClient(http, token=settings.platform_token.get_secret_value())
        outcome = await collect_progress(database(), client, month, now, on_page=on_page)
    await asyncio.gather(*updates, return_exceptions=True)
    await aupdate_progress_artifact(artifact_id, 100.0)
    return outcome


@task(name="unit-batches", cache_policy=NO_CACHE)
def unit_batches_task(size: int) -> list[tuple[int, int]]:
    """The month's units of work: consecutive ranges of unit ids."""
    with session_scope(database()) as session:
        return unit_batches(session, size)


@task(name="analyse-batch", cache_policy=NO_CACHE)
def analyse_batch_task(
    period: str, batch: tuple[int, int], run_id: int, now: datetime
) -> MonthReport:
    """Gather a batch of units' month, decide it with the pure core, book it and queue
    its digests, in one transaction; return the counts for the run's artifacts."""
    month = Period.parse(period)
    with session_scope(database()) as session:
        # Never interleaved with a recompute after an appeal (it holds its category).
        share(session, [category_lock(c) for c in CATEGORY_LABELS])
        snapshot = load_month_snapshot(session, month, work_calendar(), batch)
        # A forced rerun keeps the rulings already made on this month.
        plan = plan_monthly_analysis_with_rulings(
            snapshot, load_standing_rulings(session, month, batch)
        )
        save_month_plan(session, plan, run_id, now, batch)
        report = month_report(plan, snapshot)
        report.messages.update(queue_monthly_digests(session, plan, snapshot, run_id, now))
    return report
