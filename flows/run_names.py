"""Names of the runs that are about a moment rather than a period (UI list, at a glance)."""

from __future__ import annotations

from datetime import date, datetime

from prefect.runtime import flow_run

from models.rules import to_shanghai

__all__ = ["moment_run_name"]


def moment_run_name(prefix: str, parameter: str, fmt: str) -> str:
    """``deliver-outbox-2026-10-09-0915``: the parameter's value, else the scheduled time,
    in Beijing time."""
    given = flow_run.parameters.get(parameter) if flow_run.parameters else None
    if isinstance(given, datetime):
        at: date = to_shanghai(given)
    elif isinstance(given, date):
        at = given
    elif isinstance(given, str) and given:
        return f"{prefix}-{given}"
    else:
        scheduled = flow_run.scheduled_start_time
        if not isinstance(scheduled, datetime):
            return f"{prefix}-manual"
        at = to_shanghai(scheduled)
    return f"{prefix}-{at:{fmt}}"
