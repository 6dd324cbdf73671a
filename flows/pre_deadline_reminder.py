"""截止前提醒: two working days before the upload deadline, remind units still missing values."""

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
    run_name,
    skipped_run,
)
from models.rules import Cycle, CycleStatus
from tasks.digest_tasks import queue_missing_upload_reminders_task
from tasks.monthly_tasks import collect_progress_task
from tasks.runtime import current_runtime

CYCLE = Cycle.PRE_DEADLINE_REMINDER


@flow(
    name="pre_deadline_reminder",
    flow_run_name=lambda: run_name(CYCLE),
    description="截止前提醒：上传截止日前两个工作日，只提醒仍有数据未上传的单位。",
    **CYCLE_HOOKS,
)
def pre_deadline_reminder(
    period: str | None = None, force: bool = False, now: datetime | None = None
) -> State[dict[str, Any]]:
    """Remind units of the month's values still missing; nothing when the platform is down.

    Refused before its reminder day (never before the month has ended), even with ``force``.
    """
    runtime = current_runtime()
    month = resolve_period(runtime, CYCLE, period)
    now = run_clock(runtime, now)
    if refused := refuse_not_due(runtime, CYCLE, month, now):
        return refused
    claim = claim_run(runtime, CYCLE, month, now, force)
    if not claim.should_run:
        return skipped_run(CYCLE, month, claim)
    collected = collect_progress_task(runtime, month.key, now).as_dict()
    if collected["unavailable"]:
        # Without the platform we cannot tell who is missing: remind no one, say so.
        summary = {"collection": collected, "messages": {}}
        finish_run(runtime, claim, CycleStatus.PARTIAL, summary, now)
        message = f"平台不可用，部分完成（platform unavailable: {collected['reason']}）"
        return Completed(name="Partial", message=message, data=summary)
    messages = queue_missing_upload_reminders_task(runtime, month.key, claim.run_id, now)
    summary = {"collection": collected, "messages": messages}
    finish_run(runtime, claim, CycleStatus.COMPLETED, summary, now)
    return Completed(message=f"{month.key} reminders queued", data=summary)
