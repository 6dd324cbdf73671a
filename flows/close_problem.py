"""问题销号: close a problem of the problem ledger once it has been rectified.

Appends a ``ProblemClosure`` (the problem row itself is never edited); a problem is
closed once. The same is available as ``assess problems close ID --note ...``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import clock
from models.database import session_scope
from tasks.cycle_tasks import database
from tasks.onsite_tasks import close_problem as close_in_ledger


@task(name="close-problem", cache_policy=NO_CACHE)
def close_problem_task(problem_id: int, note: str) -> dict[str, Any]:
    with session_scope(database()) as session:
        closure = close_in_ledger(session, problem_id, note, clock())
    return {"problem_id": problem_id, "closed_at": closure.closed_at.isoformat()}


@flow(name="close_problem", description="问题销号：整改完成后为问题台账中的问题销号。")
def close_problem(problem_id: int, note: str = "") -> dict[str, Any]:
    return close_problem_task(problem_id, note)
