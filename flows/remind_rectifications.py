"""整改到期提醒: remind units of open problems a few working days before their deadline.

Runs every working day (or as a step after the monthly cycle). A problem is reminded
once: when it is open and ``rectify_by − working_days working days ≤ day ≤
rectify_by``, and no reminder listed it yet. The day is the ``day`` parameter or the
run's scheduled time (Asia/Shanghai), never the wall clock.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.common import clock
from flows.run_names import moment_run_name
from models.plans.onsite import DEFAULT_REMINDER_WORKING_DAYS
from models.rules import to_shanghai
from tasks.onsite_tasks import queue_reminders_task
from tasks.runtime import current_runtime


def reminder_day_of(day: date | None) -> date:
    """``day`` if given, else the run's scheduled day in Asia/Shanghai."""
    if day is not None:
        return day
    scheduled = flow_run.scheduled_start_time
    if not isinstance(scheduled, datetime):
        raise ValueError("remind_rectifications: give a day or run it on a schedule")
    return to_shanghai(scheduled).date()


@flow(
    name="remind_rectifications",
    flow_run_name=lambda: moment_run_name("remind-rectifications", "day", "%Y-%m-%d"),
    description="整改到期提醒：在整改期限前若干个工作日提醒尚未销号的问题，每个问题只提醒一次。",
)
def remind_rectifications(
    day: date | None = None, working_days: int = DEFAULT_REMINDER_WORKING_DAYS
) -> dict[str, Any]:
    """Queue the reminders due on ``day``; returns how many messages were queued."""
    runtime = current_runtime()
    the_day = reminder_day_of(day)
    queued = queue_reminders_task(runtime, the_day, working_days, clock(runtime))
    return {"day": the_day.isoformat(), "reminders_queued": queued}
