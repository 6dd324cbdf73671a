"""预览's one task of its own: a batch of the month decided by the core, not booked."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from models.persistence.database import session_scope
from models.plans.monthly_report import MonthReport, month_report
from models.plans.recompute import plan_monthly_analysis_with_rulings
from models.rules import Period
from tasks.appeals.reads import load_standing_rulings
from tasks.monthly import load_month_snapshot
from tasks.runtime import Runtime


@task(name="preview-batch", cache_policy=NO_CACHE)
def preview_batch_task(runtime: Runtime, period: str, batch: tuple[int, int]) -> MonthReport:
    """Gather a batch of units' month and decide it as ``analyse_batch_task`` does, but
    book nothing and queue no digest: return only the counts for the preview's report."""
    month = Period.parse(period)
    with session_scope(runtime.engine) as session:
        snapshot = load_month_snapshot(session, month, runtime.calendar, batch)
        plan = plan_monthly_analysis_with_rulings(
            snapshot, load_standing_rulings(session, month, batch)
        )
    return month_report(plan, snapshot)
