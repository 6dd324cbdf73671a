"""The outbox's Prefect tasks, for the `deliver_outbox` flow.

- `take_outbox_snapshot`: the office's view of a day (`tasks.delivery.snapshot`);
- `deliver_due_messages`: `tasks.delivery.outbox.deliver_due`, inside the send window
  only (a working day, the year's hours); never retried by Prefect, since a retry
  could send twice;
- `publish_outbox_artifact`: the ``outbox-YYYY-MM-DD`` artifact
  (`tasks.delivery.report.artifact_markdown`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import OperationalError

from models.persistence.database import session_scope
from models.rules.periods import local_text, to_shanghai
from tasks.delivery.outbox import deliver_due
from tasks.delivery.report import artifact_markdown
from tasks.delivery.snapshot import OutboxSnapshot, outbox_snapshot
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules

__all__ = [
    "artifact_key",
    "deliver_due_messages",
    "publish_outbox_artifact",
    "retry_on_database_error",
    "take_outbox_snapshot",
]


def artifact_key(day: date) -> str:
    """``outbox-2026-10-08``: lowercase letters, digits and dashes only."""
    return f"outbox-{day.isoformat()}"


def retry_on_database_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only when the database was briefly unavailable."""
    try:
        state.result()
    except OperationalError:
        return True
    except Exception:
        return False
    return False


@task(
    name="outbox-snapshot",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_database_error,
)
def take_outbox_snapshot(runtime: Runtime, day: date) -> OutboxSnapshot:
    with session_scope(runtime.engine) as session:
        return outbox_snapshot(session, day)


@task(name="deliver-due-messages", cache_policy=NO_CACHE)
def deliver_due_messages(runtime: Runtime, at: datetime) -> dict[str, int]:
    """Send what is due if the window is open. Never retried by Prefect: a retry could
    send twice; delivery retries per channel itself and again at the next run."""
    logger = get_run_logger()
    calendar = runtime.calendar
    with session_scope(runtime.engine) as session:
        rules = load_year_rules(session, to_shanghai(at).year)
        if not calendar.in_message_window(at, rules):
            logger.info(
                "outside the send window at %s: due messages wait until %s",
                local_text(at),
                local_text(calendar.message_send_time(at, rules)),
            )
            return {"window_open": 0}
        run = deliver_due(
            session,
            now=at,
            ops_channels=[c.get_secret_value() for c in runtime.settings.ops_channels],
            calendar=calendar,
        )
    counts = {"window_open": 1, **run.counts()}
    logger.info("outbox delivered: %s", counts)
    return counts


@task(name="publish-outbox-artifact", cache_policy=NO_CACHE)
def publish_outbox_artifact(
    before: OutboxSnapshot, after: OutboxSnapshot, at: datetime, counts: dict[str, int]
) -> str:
    day = after.day
    markdown = artifact_markdown(before, after, at, counts)
    key = artifact_key(day)
    create_markdown_artifact(markdown=markdown, key=key, description=f"outbox {day.isoformat()}")
    return key
