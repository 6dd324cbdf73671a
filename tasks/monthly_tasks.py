"""The monthly analysis's Prefect tasks: collect the month with a progress artifact, cut
the units into batches, analyse a batch (load, plan with the core, book, queue digests).

Tasks with side effects use ``NO_CACHE``; results stay in our tables, tasks return
plain data.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
from prefect import task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE

from models.catalog.vocabulary import CATEGORY_LABELS
from models.persistence.database import session_scope
from models.plans.monthly_report import MonthReport, month_report
from models.plans.recompute import plan_monthly_analysis_with_rulings
from models.rules import Period
from tasks.appeals.reads import load_standing_rulings
from tasks.collect import CollectOutcome, collect_progress
from tasks.digest_tasks import queue_monthly_digests
from tasks.locks import category_lock, share
from tasks.monthly import load_month_snapshot, save_month_plan, unit_batches
from tasks.platform import PlatformClient
from tasks.problems import close_problems_by_month
from tasks.runtime import Runtime


@task(name="collect-progress", cache_policy=NO_CACHE)
def collect_progress_task(runtime: Runtime, period: str, now: datetime) -> CollectOutcome:
    """Collect one month from the platform, with a progress artifact while it runs."""
    return asyncio.run(_collect_with_progress(runtime, Period.parse(period), now))


async def _collect_with_progress(runtime: Runtime, month: Period, now: datetime) -> CollectOutcome:
    settings = runtime.settings
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
        outcome = await collect_progress(runtime.engine, client, month, now, on_page=on_page)
    await asyncio.gather(*updates, return_exceptions=True)
    await aupdate_progress_artifact(artifact_id, 100.0)
    return outcome


@task(name="unit-batches", cache_policy=NO_CACHE)
def unit_batches_task(runtime: Runtime, size: int) -> list[tuple[int, int]]:
    """The month's units of work: consecutive ranges of unit ids."""
    with session_scope(runtime.engine) as session:
        return unit_batches(session, size)


@task(name="analyse-batch", cache_policy=NO_CACHE)
def analyse_batch_task(
    runtime: Runtime, period: str, batch: tuple[int, int], run_id: int, now: datetime
) -> MonthReport:
    """Gather a batch of units' month, decide it with the pure core, book it and queue
    its digests, in one transaction; return the counts for the run's artifacts."""
    month = Period.parse(period)
    with session_scope(runtime.engine) as session:
        # Never interleaved with a recompute after an appeal (it holds its category).
        share(session, [category_lock(c) for c in CATEGORY_LABELS])
        snapshot = load_month_snapshot(session, month, runtime.calendar, batch)
        # A forced rerun keeps the rulings already made on this month.
        plan = plan_monthly_analysis_with_rulings(
            snapshot, load_standing_rulings(session, month, batch)
        )
        save_month_plan(session, plan, run_id, now, batch)
        close_problems_by_month(session, month.key, batch, now)  # a green/yellow month closes
        report = month_report(plan, snapshot)
        report.messages.update(
            queue_monthly_digests(session, plan, snapshot, run_id, now, runtime.calendar)
        )
    return report
