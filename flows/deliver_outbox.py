"""Deliver the outbox on schedule, inside the send window (working days 09:00–18:00).

`deliver_outbox` runs on a schedule (`SCHEDULE_CRON` in Asia/Shanghai, every
15 minutes during office hours on every day; the send window is checked against
the working-day calendar, make-up working days 调休 included). Its ``now`` is the
run's scheduled start time, never the wall clock inside the logic. Outside the
window it sends nothing: due messages wait for the next window. Each run publishes
the outbox artifact ``outbox-YYYY-MM-DD`` (`tasks.delivery.tasks`).
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.runtime import flow_run

from flows.run_names import moment_run_name
from models.rules.periods import to_shanghai
from tasks.delivery.tasks import deliver_due_messages, publish_outbox_artifact, take_outbox_snapshot
from tasks.runtime import current_runtime

__all__ = ["SCHEDULE_CRON", "SCHEDULE_TIMEZONE", "deliver_outbox", "resolve_now"]

SCHEDULE_CRON = "*/15 9-17 * * *"
SCHEDULE_TIMEZONE = "Asia/Shanghai"


# ------------------------------------------------------------------------------ flow


def resolve_now(now: datetime | None) -> datetime:
    """``now`` if given, else the run's scheduled start time (never the wall clock)."""
    if now is not None:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        return now
    scheduled = flow_run.scheduled_start_time
    if not isinstance(scheduled, datetime):
        raise ValueError("deliver_outbox: give now or run it on a schedule")
    return scheduled


@flow(
    name="deliver_outbox",
    flow_run_name=lambda: moment_run_name("deliver-outbox", "now", "%Y-%m-%d-%H%M"),
    log_prints=False,
)
def deliver_outbox(now: datetime | None = None) -> dict[str, int]:
    """Deliver the messages whose send window is open; publish the outbox artifact."""
    runtime = current_runtime()
    at = resolve_now(now)
    day = to_shanghai(at).date()
    before = take_outbox_snapshot(runtime, day)
    counts = deliver_due_messages(runtime, at)
    after = take_outbox_snapshot(runtime, day)
    publish_outbox_artifact(before, after, at, counts)
    return counts
