"""What every cycle flow shares: its period, its run name, its clock, the runs below it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prefect.client.schemas.objects import State
from prefect.runtime import deployment, flow_run
from prefect.states import Cancelled

from models.rules import Cycle, Period, assessed_period, cycles_below, period_for_run
from tasks.due import check_due_task
from tasks.runtime import work_calendar


def resolve_period(cycle: Cycle, period: str | None) -> Period:
    """The period a run assesses: the ``period`` parameter, else the run's scheduled time.

    Never the wall clock: a late run still assesses the period it was scheduled for.
    """
    if period:
        parsed = Period.parse(period)
        # A month given to a higher cycle names the period that month closes.
        if parsed.kind.value == "month" and cycle is not Cycle.MONTHLY_ANALYSIS:
            if cycle is Cycle.PRE_DEADLINE_REMINDER:
                return parsed
            return assessed_period(cycle, parsed)
        return parsed
    scheduled = flow_run.scheduled_start_time
    if scheduled is None:
        raise ValueError(f"{cycle.value}: give a period (e.g. 2026-03) or run it on a schedule")
    return period_for_run(scheduled, work_calendar(), cycle)


def run_name(cycle: Cycle) -> str:
    """``monthly-analysis-2026-03``: cycle and period, readable at a glance in the UI."""
    period = flow_run.parameters.get("period") if flow_run.parameters else None
    try:
        key = resolve_period(cycle, period).key
    except ValueError:
        key = "unknown"
    return f"{cycle.value.replace('_', '-')}-{key}".lower()


def wall_clock() -> datetime:
    return datetime.now(UTC)


time_source: Callable[[], datetime] = wall_clock
"""Where :func:`clock` reads the time. Tests that replay a whole year of platform data
set it to a fixed time after the year (platform times later than *now* are refused)."""


def clock() -> datetime:
    """The imperative shell's clock (ledger timestamps); logic receives it as ``now``."""
    return time_source()


def refuse_not_due(
    cycle: Cycle, period: Period, now: datetime, preview: bool = False
) -> State[Any] | None:
    """A ``Cancelled`` state named ``NotDue`` (message in Chinese: when it will be due)
    when ``cycle``'s ``period`` is not due at ``now`` (``models.rules.due``); else None.

    ``force`` never overrides it; a preview books nothing, so it may run any time.
    """
    if preview:
        return None
    # A worker may start a deployment's run a few seconds before its scheduled time
    # (its prefetch): such a run is due as of the time it was scheduled for.
    scheduled = flow_run.scheduled_start_time if deployment.id else None
    due = check_due_task(cycle.value, period.key, max(now, scheduled) if scheduled else now)
    if due.is_due:
        return None
    return Cancelled(name="NotDue", message=due.message)


def current_flow_run_id() -> str | None:
    run_id = flow_run.id
    return str(run_id) if run_id else None


def run_cycles_below(cycle: Cycle, period: Period, below: Callable[..., Any]) -> None:
    """Run, as subflows and in order, each run below ``cycle``'s ``period`` (``cycles_below``).

    ``below`` is the flow of the cycle below; each run is a no-op when its period is
    done. Raises when one does not complete: a higher cycle never builds on a gap.
    """
    for lower_cycle, lower in cycles_below(cycle, period):
        name = getattr(below, "name", lower_cycle.value)
        if name != lower_cycle.value:
            raise ValueError(f"{cycle.value} builds on {lower_cycle.value}, not on {name}")
        state = below(period=lower.key, return_state=True)
        if not state.is_completed():
            raise RuntimeError(
                f"{lower_cycle.value} {lower.key} ended {state.name}: {state.message}"
            )
