"""半年评估: after the half's quarterly monitorings, running scores and ranks."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.common import (
    clock,
    current_flow_run_id,
    refuse_not_due,
    resolve_period,
    run_cycles_below,
    run_name,
)
from flows.preview import preview_half
from flows.quarterly_monitoring import quarterly_monitoring
from models.plans.cycle_reports import half_year_publication
from models.plans.results import gaps_summary, plan_results
from models.rules import Cycle, CycleStatus
from tasks.artifacts import publish_artifacts_task
from tasks.cycle_runs import claim_cycle_task, finish_cycle_task
from tasks.results import load_result_inputs_task, save_results_task

CYCLE = Cycle.HALF_YEAR_EVALUATION


@flow(
    name="half_year_evaluation",
    flow_run_name=lambda: run_name(CYCLE),
    description="半年评估：在半年各季度监测之后，计算各单位当前得分与类别内排名。",
)
def half_year_evaluation(
    period: str | None = None, force: bool = False, preview: bool = False
) -> State[dict[str, Any]]:
    """Evaluate one half-year (``2026-H1``, or its closing month ``2026-06``).

    Runs each quarter's monitoring first (and so its months; a no-op when done).
    Refused before it is due; ``preview`` books nothing and runs nothing below.
    """
    half = resolve_period(CYCLE, period)
    if refused := refuse_not_due(CYCLE, half, clock(), preview):
        return refused
    if preview:
        return preview_half(half)
    run_cycles_below(CYCLE, half, quarterly_monitoring)
    now = clock()
    claim = claim_cycle_task(CYCLE.value, half.key, now, current_flow_run_id(), force)
    if not claim.should_run:
        return Completed(message=f"{half.key} already {claim.status}", data={"outcome": "done"})
    inputs = load_result_inputs_task(half.year, through=half.months()[-1].key)
    results = plan_results(
        inputs.units,
        inputs.indicators,
        inputs.ledger_sums,
        inputs.rules,
        with_data=inputs.with_data,
    )
    history = save_results_task(CYCLE.value, half.key, results, claim.run_id, now)
    pub = half_year_publication(half, results, inputs.units, history, gaps=inputs.gaps)
    publish_artifacts_task(pub.key, pub.title, pub.markdown, pub.table)
    summary: dict[str, Any] = {
        "period": half.key,
        "units": len(results),
        **gaps_summary(inputs.gaps),
    }
    finish_cycle_task(claim.run_id, CycleStatus.COMPLETED, summary, clock())
    return Completed(message=f"{half.key} evaluated", data=summary)
