"""半年评估: after the half's quarterly monitorings, running scores and ranks."""

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
from flows.preview import preview_half
from flows.quarterly_monitoring import quarterly_monitoring
from models.plans.cycle_reports import half_year_publication, simplification_publication
from models.plans.results import gaps_summary, plan_results
from models.rules import Cycle, CycleStatus
from tasks.annual import simplification_proposals_task
from tasks.artifacts import publish_artifacts_task
from tasks.results import load_result_inputs_task, save_results_task
from tasks.runtime import current_runtime

CYCLE = Cycle.HALF_YEAR_EVALUATION


@flow(
    name="half_year_evaluation",
    flow_run_name=lambda: run_name(CYCLE),
    description="半年评估：在半年各季度监测之后，计算各单位当前得分与类别内排名。",
    **CYCLE_HOOKS,
)
def half_year_evaluation(
    period: str | None = None,
    force: bool = False,
    preview: bool = False,
    now: datetime | None = None,
) -> State[dict[str, Any]]:
    """Evaluate one half-year (``2026-H1``, or its closing month ``2026-06``).

    Runs each quarter's monitoring first (and so its months; a no-op when done).
    Refused before it is due; ``preview`` books nothing and runs nothing below.
    """
    runtime = current_runtime()
    half = resolve_period(runtime, CYCLE, period)
    now = run_clock(runtime, now)
    if refused := refuse_not_due(runtime, CYCLE, half, now, preview):
        return refused
    if preview:
        return preview_half(runtime, half)
    run_cycles_below(CYCLE, half, quarterly_monitoring, now)
    claim = claim_run(runtime, CYCLE, half, now, force)
    if not claim.should_run:
        return skipped_run(CYCLE, half, claim)
    inputs = load_result_inputs_task(runtime, half.year, through=half.months()[-1].key)
    results = plan_results(
        inputs.units,
        inputs.indicators,
        inputs.ledger_sums,
        inputs.rules,
        with_data=inputs.with_data,
    )
    history = save_results_task(runtime, CYCLE.value, half.key, results, claim.run_id, now)
    pub = half_year_publication(half, results, inputs.units, history, gaps=inputs.gaps)
    publish_artifacts_task(pub.key, pub.title, pub.markdown, pub.table)
    proposals = simplification_proposals_task(runtime, half.year, half.last_month)
    low = simplification_publication(half, proposals, inputs.rules)
    publish_artifacts_task(low.key, low.title, low.markdown, low.table)
    summary: dict[str, Any] = {
        "period": half.key,
        "units": len(results),
        **gaps_summary(inputs.gaps),
    }
    finish_run(runtime, claim, CycleStatus.COMPLETED, summary, now)
    return Completed(message=f"{half.key} evaluated", data=summary)
