"""季度监测: after the quarter's monthly analyses, the red/missing trend, the negative list,
and the quarter's confidential draw of units for unannounced on-site checks (四不两直).

The draw (``tasks.onsite_tasks.draw_onsite_plan_task``) is stored in the database
only; this flow, its artifacts, logs and result say no more than that it was made.
The report and summary are ``models.plans.cycle_reports.quarterly_report``'s.
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
from flows.monthly_analysis import monthly_analysis
from flows.preview import preview_quarter
from models.plans.cycle_reports import quarterly_report
from models.plans.onsite import DEFAULT_SAMPLE_RULE
from models.rules import Cycle, CycleStatus
from tasks.artifacts import publish_artifacts_task
from tasks.onsite_tasks import draw_onsite_plan_task
from tasks.problems import open_quarter_problems_task
from tasks.results import load_quarter_task
from tasks.runtime import current_runtime

CYCLE = Cycle.QUARTERLY_MONITORING


@flow(
    name="quarterly_monitoring",
    flow_run_name=lambda: run_name(CYCLE),
    description=(
        "季度监测：在季度各月分析之后，汇总各类别红色与未上传趋势，复核负面清单，"
        "并按规则随机抽取实地核查对象（结果保密，仅存数据库）。"
    ),
    **CYCLE_HOOKS,
)
def quarterly_monitoring(
    period: str | None = None,
    force: bool = False,
    onsite_share: float = float(DEFAULT_SAMPLE_RULE.share),
    onsite_minimum: int = DEFAULT_SAMPLE_RULE.minimum,
    preview: bool = False,
    now: datetime | None = None,
) -> State[dict[str, Any]]:
    """Monitor one quarter (``2026-Q3``, or its closing month ``2026-09``).

    Runs each month's analysis first (a no-op when done). ``onsite_share`` /
    ``onsite_minimum``: how many of the quarter's candidates are drawn for on-site
    checks (``ceil(share × n)``, at least the minimum). Refused before it is due;
    ``preview`` books nothing and runs nothing below.
    """
    runtime = current_runtime()
    quarter = resolve_period(runtime, CYCLE, period)
    now = run_clock(runtime, now)
    if refused := refuse_not_due(runtime, CYCLE, quarter, now, preview):
        return refused
    if preview:
        return preview_quarter(runtime, quarter)
    run_cycles_below(CYCLE, quarter, monthly_analysis, now)
    claim = claim_run(runtime, CYCLE, quarter, now, force)
    if not claim.should_run:
        return skipped_run(CYCLE, quarter, claim)
    keys = [m.key for m in quarter.months()]
    units, levels, on_list = load_quarter_task(runtime, keys)
    draw_onsite_plan_task(runtime, quarter.key, keys, now, onsite_share, onsite_minimum)
    open_quarter_problems_task(runtime, quarter.key, now)  # problems found by analysis (rulebook 5)
    report = quarterly_report(quarter, units, levels, on_list)
    pub = report.publication
    publish_artifacts_task(pub.key, pub.title, pub.markdown, pub.table)
    finish_run(runtime, claim, CycleStatus.COMPLETED, report.summary, now)
    return Completed(message=f"{quarter.key} monitored", data=report.summary)
