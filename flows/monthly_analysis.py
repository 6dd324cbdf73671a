"""月分析: collect the month, assess every unit and indicator, book the ledgers, queue digests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.common import (
    CYCLE_HOOKS,
    claim_run,
    finish_run,
    learned_at,
    refuse_not_due,
    resolve_period,
    run_clock,
    run_name,
    skipped_run,
)
from flows.preview import preview_month
from models.plans.monthly_report import (
    MonthReport,
    category_rows,
    monthly_markdown,
    monthly_summary,
)
from models.plans.platform_registry import (
    registry_markdown,
    registry_rows,
)
from models.rules import Cycle, CycleStatus
from tasks.artifacts import publish_artifacts_task
from tasks.monthly_tasks import analyse_batch_task, collect_progress_task, unit_batches_task
from tasks.office_lists import publish_unit_years_task
from tasks.platform_registry import (
    check_platform_registry_task,
    fetch_platform_units_task,
)
from tasks.runtime import current_runtime

CYCLE = Cycle.MONTHLY_ANALYSIS


@flow(
    name="monthly_analysis",
    flow_run_name=lambda: run_name(CYCLE),
    description="月分析：采集当月平台数据，计算完成度与等级，记预扣分、预警和负面清单。",
    task_runner=ThreadPoolTaskRunner(max_workers=8),  # type: ignore[arg-type]  # invariant in 3.9
    **CYCLE_HOOKS,
)
def monthly_analysis(
    period: str | None = None,
    force: bool = False,
    batch_size: int = 1000,
    now: datetime | None = None,
    preview: bool = False,
) -> State[dict[str, Any]]:
    """Analyse one month (``2026-03``); a month already analysed is a no-op unless ``force``.

    Units are analysed in batches of ``batch_size`` (one task each, one transaction each),
    ``ASSESS_BATCH_CONCURRENCY`` at a time (default 1). A month not yet due (its upload
    deadline not passed) is refused, even with ``force``; ``preview`` books nothing.
    """
    runtime = current_runtime()
    month = resolve_period(runtime, CYCLE, period)
    now = run_clock(runtime, now)
    if refused := refuse_not_due(runtime, CYCLE, month, now, preview):
        return refused
    if preview:
        return preview_month(runtime, month, batch_size, now)
    claim = claim_run(runtime, CYCLE, month, now, force)
    if not claim.should_run:
        return skipped_run(CYCLE, month, claim)
    learned = learned_at(runtime, now)
    platform_units = fetch_platform_units_task(runtime, learned)  # never fails the month
    collected = collect_progress_task(runtime, month.key, learned).as_dict()
    report = MonthReport(month.key)
    batches, width = unit_batches_task(runtime, batch_size), runtime.batch_concurrency()
    for k in range(0, len(batches), width):  # ``width`` batches at a time
        futures = [analyse_batch_task.submit(runtime, month.key, b, claim.run_id, now)
                   for b in batches[k : k + width]]  # fmt: skip
        for future in futures:
            report.merge(future.result())
    summary = monthly_summary(report, collected)
    key = f"monthly-analysis-{month.key}".lower()
    # The office is told once per content and year (check-platform-registry queues it).
    registry = check_platform_registry_task(runtime, month.key, platform_units, claim.run_id, now)
    checked = registry_markdown(registry, month.year)
    markdown = monthly_markdown(report, collected) + "\n" + checked
    publish_artifacts_task(key, f"{month.key} 月分析", markdown, category_rows(report))
    if registry.discrepancies:
        title = f"{month.key} 平台单位名单核对"
        publish_artifacts_task(f"{key}-units", title, checked, registry_rows(registry))
    publish_unit_years_task(runtime, month.key, claim.run_id)
    status = CycleStatus.PARTIAL if collected["unavailable"] else CycleStatus.COMPLETED
    finish_run(runtime, claim, status, summary, now)
    if status is CycleStatus.PARTIAL:
        message = f"平台不可用，部分完成（platform unavailable: {collected['reason']}）"
        return Completed(name="Partial", message=message, data=summary)
    return Completed(message=f"{month.key} analysed", data=summary)
