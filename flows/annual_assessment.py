"""年度考核: after December's half-year evaluation, settle and grade the year.

Then: each unit's result notice (score, rank in its category, grade; it opens the
appeal window), the indicators proposed for simplification (completion CV under the
year's threshold all year) and the office's experience report (rulebook section 10),
both as artifacts of the run. The settlement and grades are
``models.plans.results.plan_annual``'s; the reports ``models.plans.cycle_reports``'s,
written from the year's rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.common import (
    CYCLE_HOOKS,
    claim_run,
    finish_run,
    refuse_not_due,
    resolve_period,
    run_clock,
    run_cycles_below,
    run_name,
    skipped_run,
)
from flows.half_year_evaluation import half_year_evaluation
from flows.preview import preview_year
from models.plans.cycle_reports import (
    annual_results_publication,
    annual_summary,
    burden_publication,
    simplification_publication,
)
from models.plans.results import plan_annual
from models.rules import Cycle, CycleStatus
from tasks.annual import (
    gather_burden_counts_task,
    queue_result_notices_task,
    simplification_proposals_task,
)
from tasks.artifacts import publish_artifacts_task
from tasks.results import load_result_inputs_task, save_annual_task
from tasks.runtime import current_runtime

CYCLE = Cycle.ANNUAL_ASSESSMENT


@flow(
    name="annual_assessment",
    flow_run_name=lambda: run_name(CYCLE),
    description=(
        "年度考核：按12月完成度将预扣分结算为最终扣分，计算最终得分、排名与等次，"
        "向各单位发送结果通知，提出指标简化建议，生成减负增效情况报告。"
    ),
    **CYCLE_HOOKS,
)
def annual_assessment(
    period: str | None = None,
    force: bool = False,
    preview: bool = False,
    now: datetime | None = None,
) -> State[dict[str, Any]]:
    """Assess one year (``2026``, or its closing month ``2026-12``).

    Runs both half-years' evaluations first (and so every quarter and month; a no-op
    when done). Refused before its annual time; ``preview`` books nothing, sends no
    notice and runs nothing below.
    """
    runtime = current_runtime()
    year = resolve_period(runtime, CYCLE, period)
    now = run_clock(runtime, now)
    if refused := refuse_not_due(runtime, CYCLE, year, now, preview):
        return refused
    if preview:
        return preview_year(runtime, year)
    run_cycles_below(CYCLE, year, half_year_evaluation, now)
    claim = claim_run(runtime, CYCLE, year, now, force)
    if not claim.should_run:
        return skipped_run(CYCLE, year, claim)
    inputs = load_result_inputs_task(
        runtime, year.year, with_december=True, through=f"{year.year}-12"
    )
    rules = inputs.rules
    plan = plan_annual(
        inputs.units,
        inputs.indicators,
        inputs.december,
        inputs.ledger_sums,
        rules,
        with_data=inputs.with_data,
    )
    history = save_annual_task(
        runtime, year.year, plan.settlements, plan.results, claim.run_id, now
    )
    notices = queue_result_notices_task(runtime, year.year, claim.run_id, now)
    proposals = simplification_proposals_task(runtime, year.year)
    counts = gather_burden_counts_task(runtime, year.year)
    for pub in (
        annual_results_publication(
            year, plan.results, plan.settlements, inputs.units, rules, history, gaps=inputs.gaps
        ),
        simplification_publication(year, proposals, rules),
        burden_publication(year, counts, rules),
    ):
        publish_artifacts_task(pub.key, pub.title, pub.markdown, pub.table)
    summary = annual_summary(year, plan.results, plan.settlements, notices, proposals, inputs.gaps)
    finish_run(runtime, claim, CycleStatus.COMPLETED, summary, now)
    return Completed(message=f"{year.key} assessed", data=summary)
