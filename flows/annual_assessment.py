"""年度考核: after December's half-year evaluation, settle and grade the year.

Then: each unit's result notice (score, rank in its category, grade; it opens the
appeal window), the indicators proposed for simplification (completion CV under
0.05 all year) and the office's experience report (rulebook section 10), both as
artifacts of the run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.common import clock, current_flow_run_id, resolve_period, run_cycles_below, run_name
from flows.half_year_evaluation import half_year_evaluation
from models.catalog.vocabulary import CATEGORY_LABELS
from models.plans.annual import proposal_rows, proposals_markdown
from models.plans.burden import burden_figures, burden_markdown
from models.plans.results import (
    apply_settlement,
    plan_results,
    plan_settlement,
    result_rows,
    results_markdown,
)
from models.rules import Cycle
from tasks.cycle_tasks import claim_cycle_task, finish_cycle_task
from tasks.report_tasks import (
    gather_burden_counts_task,
    queue_result_notices_task,
    simplification_proposals_task,
)
from tasks.result_tasks import load_result_inputs_task, publish_report_task, save_annual_task

CYCLE = Cycle.ANNUAL_ASSESSMENT


@flow(
    name="annual_assessment",
    flow_run_name=lambda: run_name(CYCLE),
    description=(
        "年度考核：按12月完成度将预扣分结算为最终扣分，计算最终得分、排名与等次，"
        "向各单位发送结果通知，提出指标简化建议，生成减负增效情况报告。"
    ),
)
def annual_assessment(period: str | None = None, force: bool = False) -> State[dict[str, Any]]:
    """Assess one year (``2026``, or its closing month ``2026-12``)."""
    year = resolve_period(CYCLE, period)
    run_cycles_below(CYCLE, year, half_year_evaluation)
    now = clock()
    claim = claim_cycle_task(CYCLE.value, year.key, now, current_flow_run_id(), force)
    if not claim.should_run:
        return Completed(message=f"{year.key} already {claim.status}", data={"outcome": "done"})
    inputs = load_result_inputs_task(year.year, with_december=True)
    weights = {i.id: i.weight for i in inputs.indicators}
    settlements = plan_settlement(inputs.december, weights, inputs.ledger_sums)
    final_sums = apply_settlement(inputs.ledger_sums, settlements)
    results = plan_results(
        inputs.units, inputs.indicators, final_sums, inputs.rules, with_grades=True
    )
    save_annual_task(year.year, settlements, results, claim.run_id, now)
    names = {u.id: u.name for u in inputs.units}
    change = sum((s.amount for s in settlements), Decimal(0))
    title = f"{year.key} 年度考核"
    notes = [
        "最终扣分 = round(权重 × (1 − min(完成度, 1)), 2)，按12月完成度；未上传扣全部权重",
        f"结算条目 {len(settlements)} 条，扣分合计变动 {change}",
        "等次：优秀（≥90分且居类别前30%）、良好（≥80）、一般（≥60）、较差（<60）",
    ]
    key = f"annual-assessment-{year.key}".lower()
    publish_report_task(
        key, result_rows(results, names, CATEGORY_LABELS),
        results_markdown(title, results, names, CATEGORY_LABELS, notes), title,
    )  # fmt: skip
    notices = queue_result_notices_task(year.year, claim.run_id, now)
    proposals = simplification_proposals_task(year.year)
    publish_report_task(
        f"annual-simplification-{year.key}", proposal_rows(proposals),
        proposals_markdown(year.year, proposals, inputs.rules), f"{year.key} 指标简化建议",
    )  # fmt: skip
    counts = gather_burden_counts_task(year.year)
    publish_report_task(
        f"burden-{year.key}", None, burden_markdown(counts, burden_figures(counts)),
        f"{year.key} 减负增效情况报告",
    )  # fmt: skip
    grades: dict[str, int] = {}
    for r in results:
        if r.grade is not None:
            grades[r.grade.value] = grades.get(r.grade.value, 0) + 1
    summary: dict[str, Any] = {
        "period": year.key,
        "units": len(results),
        "settlements": len(settlements),
        "settlement_change": str(change),
        "grades": grades,
        "result_notices": notices,
        "simplification_proposals": [p.indicator_code for p in proposals],
    }
    finish_cycle_task(claim.run_id, "completed", summary, clock())
    return Completed(message=f"{year.key} assessed", data=summary)
