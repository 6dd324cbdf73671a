"""半年评估: after the half's last quarterly monitoring, running scores and ranks."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.common import clock, current_flow_run_id, resolve_period, run_cycles_below, run_name
from flows.quarterly_monitoring import quarterly_monitoring
from models.catalog.vocabulary import CATEGORY_LABELS
from models.plans.results import plan_results, result_rows, results_markdown
from models.rules import Cycle
from tasks.cycle_tasks import claim_cycle_task, finish_cycle_task
from tasks.result_tasks import load_result_inputs_task, publish_report_task, save_results_task

CYCLE = Cycle.HALF_YEAR_EVALUATION


@flow(
    name="half_year_evaluation",
    flow_run_name=lambda: run_name(CYCLE),
    description="半年评估：在半年末季度监测之后，计算各单位当前得分与类别内排名。",
)
def half_year_evaluation(period: str | None = None, force: bool = False) -> State[dict[str, Any]]:
    """Evaluate one half-year (``2026-H1``, or its closing month ``2026-06``)."""
    half = resolve_period(CYCLE, period)
    last = half.months()[-1]
    run_cycles_below(CYCLE, half, quarterly_monitoring)
    now = clock()
    claim = claim_cycle_task(CYCLE.value, half.key, now, current_flow_run_id(), force)
    if not claim.should_run:
        return Completed(message=f"{half.key} already {claim.status}", data={"outcome": "done"})
    inputs = load_result_inputs_task(half.year)
    results = plan_results(inputs.units, inputs.indicators, inputs.ledger_sums, inputs.rules)
    save_results_task(CYCLE.value, half.key, results, claim.run_id, now)
    names = {u.id: u.name for u in inputs.units}
    title = f"{half.key} 半年评估"
    notes = [f"得分 = 100 ×（总权重 − 当前扣分）÷ 总权重，截至 {last.key} 月分析", "同分同名次"]
    key = f"half-year-evaluation-{half.key}".lower()
    publish_report_task(
        key, result_rows(results, names, CATEGORY_LABELS),
        results_markdown(title, results, names, CATEGORY_LABELS, notes), title,
    )  # fmt: skip
    summary: dict[str, Any] = {"period": half.key, "units": len(results)}
    finish_cycle_task(claim.run_id, "completed", summary, clock())
    return Completed(message=f"{half.key} evaluated", data=summary)
