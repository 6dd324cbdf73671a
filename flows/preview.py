"""预览: each cycle's figures for its period, published as a preview and never booked.

Called by a cycle flow run with ``preview=True`` (which may come before the period is
due): gather with the cycle's own loading tasks, decide with the pure core, publish
``models.plans.preview.preview_publication`` of the report. No claim, no ledger or
result row, no on-site draw, no message; the runs below are not started.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.common import learned_at
from models.plans.cycle_reports import (
    Publication,
    annual_results_publication,
    half_year_publication,
    quarterly_report,
)
from models.plans.monthly_report import MonthReport, category_rows, monthly_markdown
from models.plans.preview import preview_publication
from models.plans.results import plan_annual, plan_results
from models.rules import Period
from tasks.artifacts import publish_artifacts_task
from tasks.monthly_tasks import collect_progress_task, unit_batches_task
from tasks.preview import preview_batch_task
from tasks.results import load_quarter_task, load_result_inputs_task
from tasks.runtime import Runtime


def _publish(pub: Publication, summary: dict[str, Any]) -> State[dict[str, Any]]:
    shown = preview_publication(pub)
    publish_artifacts_task(shown.key, shown.title, shown.markdown, shown.table)
    return Completed(
        name="Preview", message=f"{shown.title}：已发布，未记账、未发送消息", data=summary
    )


def preview_month(
    runtime: Runtime, month: Period, batch_size: int, now: datetime
) -> State[dict[str, Any]]:
    """The month's analysis as it would be now (the platform is read, as intake)."""
    collected = collect_progress_task(runtime, month.key, learned_at(runtime, now)).as_dict()
    report = MonthReport(month.key)
    for batch in unit_batches_task(runtime, batch_size):
        report.merge(preview_batch_task(runtime, month.key, batch))
    pub = Publication(
        f"monthly-analysis-{month.key}".lower(),
        category_rows(report),
        monthly_markdown(report, collected),
        f"{month.key} 月分析",
    )
    return _publish(pub, {"period": month.key, "preview": True})


def preview_quarter(runtime: Runtime, quarter: Period) -> State[dict[str, Any]]:
    """The quarter's trend and negative list from the months analysed so far; no draw."""
    units, levels, on_list = load_quarter_task(runtime, [m.key for m in quarter.months()])
    return _publish(quarterly_report(quarter, units, levels, on_list).publication,
                    {"period": quarter.key, "preview": True})  # fmt: skip


def preview_half(runtime: Runtime, half: Period) -> State[dict[str, Any]]:
    """The half-year's scores and ranks as of its last month, from the months analysed so far."""
    inputs = load_result_inputs_task(runtime, half.year, through=half.months()[-1].key)
    results = plan_results(inputs.units, inputs.indicators, inputs.ledger_sums, inputs.rules,
                           with_data=inputs.with_data)  # fmt: skip
    pub = half_year_publication(half, results, inputs.units, gaps=inputs.gaps)
    return _publish(pub, {"period": half.key, "units": len(results), "preview": True})


def preview_year(runtime: Runtime, year: Period) -> State[dict[str, Any]]:
    """The year's settlement, scores, ranks and grades as they would be now; no notice."""
    inputs = load_result_inputs_task(
        runtime, year.year, with_december=True, through=f"{year.year}-12"
    )
    plan = plan_annual(inputs.units, inputs.indicators, inputs.december, inputs.ledger_sums,
                       inputs.rules, with_data=inputs.with_data)  # fmt: skip
    pub = annual_results_publication(
        year, plan.results, plan.settlements, inputs.units, inputs.rules, gaps=inputs.gaps
    )
    return _publish(pub, {"period": year.key, "units": len(plan.results), "preview": True})
