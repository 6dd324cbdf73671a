"""问题销号: close a problem of the problem ledger once it has been rectified.

Appends a ``ProblemClosure`` (the problem row itself is never edited); a problem is
closed once. The same is available as ``assess problems close ID --note ...``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.common import clock
from flows.forms import ProblemClosureForm
from tasks.onsite_tasks import close_problem_task
from tasks.runtime import current_runtime


@flow(
    name="close_problem",
    flow_run_name="问题销号-{form.problem_id}",
    description="问题销号：整改完成后为问题台账中的问题销号。",
)
def close_problem(form: ProblemClosureForm) -> dict[str, Any]:
    runtime = current_runtime()
    return close_problem_task(runtime, form.problem_id, form.note, clock(runtime))
