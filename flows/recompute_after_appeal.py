"""申诉复查后重新核算: after a ruling, recompute the unit's results and tell it the outcome.

``recompute_after_appeal(ruling_id)`` recomputes the ruled unit's indicator for the
appealed month and every later month already analysed in the year, books only
correcting entries that point to the ruling (deductions, warnings, the negative
list, half-year and annual results of the unit's whole category), tells the unit
the outcome once (``appeal_outcome``) and any unit whose annual rank or grade
changed its corrected result. All of it in one transaction under the category's
lock, so two recomputations in the same category never interleave; a second run
books and sends nothing. The run's artifact traces the month from the platform's
value to the score (``assess explain`` shows the same).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.common import clock
from models.plans.explain import explain_markdown
from tasks.appeals.explain import explain_task
from tasks.appeals.recompute import recompute_task
from tasks.artifacts import publish_artifacts_task
from tasks.runtime import current_runtime


@flow(
    name="recompute_after_appeal",
    flow_run_name="recompute-after-appeal-{ruling_id}",
    description="申诉复查后重新核算：按裁定重算该单位该月及以后已分析月份，冲正台账，重排类别名次并告知结果。",
)
def recompute_after_appeal(ruling_id: int) -> State[dict[str, Any]]:
    """Recompute after ruling ``ruling_id`` (it must have taken effect)."""
    logger = get_run_logger()
    runtime = current_runtime()
    outcome = recompute_task(runtime, ruling_id, clock(runtime))
    summary: dict[str, Any] = {**outcome.summary, "messages": outcome.messages}
    if outcome.changed:
        logger.info("ruling %s: booked %s", ruling_id, outcome.summary)
    else:
        logger.info("ruling %s: nothing to book (already recomputed, or a rejection)", ruling_id)
    facts = explain_task(runtime, outcome.unit_code, outcome.indicator_code, outcome.period)
    publish_artifacts_task(
        f"appeal-recompute-{ruling_id}",
        f"裁定 {ruling_id} 重新核算：{outcome.unit_code} {outcome.indicator_code} {outcome.period}",
        explain_markdown(facts),
    )
    message = (
        f"ruling {ruling_id}: {outcome.unit_code} {outcome.indicator_code} {outcome.period} "
        + ("recomputed" if outcome.changed else "unchanged")
    )
    return Completed(message=message, data=summary)
