"""What every cycle flow shares: its period, its run name, its clock, its claim, the runs below.

A cycle run's lifecycle lives here: `claim_run` (claim the period, releasing a dead
holder's claim at once), `skipped_run` (the state of a run that does nothing: done
already, or busy), `finish_run`, and `fail_claim`, the flow hook (``CYCLE_HOOKS``)
that marks a failed or crashed run's claim ``failed`` with its error. A run's time is
`run_clock`'s: the explicit ``now``, else the tests' `time_source`, else the flow
run's scheduled time, else the runtime's clock. Every helper here that reaches the
database or the calendar takes the flow's `Runtime` (``tasks.runtime``) first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prefect.client.schemas.objects import State
from prefect.runtime import deployment, flow_run
from prefect.states import Cancelled, Completed

from models.rules import Cycle, Period, assessed_period, cycles_below, local_text, period_for_run
from tasks.cycle_runs import Claim, claim_cycle_task, fail_flow_run_claims, finish_cycle_task
from tasks.due import check_due_task
from tasks.runtime import Runtime, current_runtime


def resolve_period(runtime: Runtime, cycle: Cycle, period: str | None) -> Period:
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
    return period_for_run(scheduled, runtime.calendar, cycle)


def run_name(cycle: Cycle) -> str:
    """``monthly-analysis-2026-03``: cycle and period, readable at a glance in the UI.

    Called by Prefect before the flow's body: it obtains the runtime itself."""
    period = flow_run.parameters.get("period") if flow_run.parameters else None
    try:
        key = resolve_period(current_runtime(), cycle, period).key
    except ValueError:
        key = "unknown"
    return f"{cycle.value.replace('_', '-')}-{key}".lower()


time_source: Callable[[], datetime] | None = None
"""The tests' override of the runtime's clock (None: ``runtime.clock``). Tests that
replay a whole year of platform data set it to a fixed time after the year (platform
times later than *now* are refused)."""


def clock(runtime: Runtime) -> datetime:
    """The imperative shell's clock (ledger timestamps); logic receives it as ``now``."""
    return time_source() if time_source is not None else runtime.clock()


def refuse_not_due(
    runtime: Runtime, cycle: Cycle, period: Period, now: datetime, preview: bool = False
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
    due = check_due_task(
        runtime, cycle.value, period.key, max(now, scheduled) if scheduled else now
    )
    if due.is_due:
        return None
    return Cancelled(name="NotDue", message=due.message)


def run_clock(runtime: Runtime, now: datetime | None = None) -> datetime:
    """A cycle run's ``now``, read once and handed to every task of the run.

    In order: the explicit ``now`` parameter (a catch-up, a replay, a parent cycle
    passing its own), the tests' `time_source` override, the flow run's scheduled
    start time (a late run keeps the time it was scheduled for), the runtime's clock.
    """
    if now is not None:
        if now.tzinfo is None:
            raise ValueError(f"now must carry a time zone (e.g. {now.isoformat()}+08:00)")
        return now.astimezone(UTC)
    if time_source is not None:
        return time_source()
    if flow_run.id:
        scheduled = flow_run.scheduled_start_time
        if scheduled is not None:
            return datetime.fromtimestamp(scheduled.timestamp(), UTC)
    return runtime.clock()


def learned_at(runtime: Runtime, now: datetime) -> datetime:
    """When a run learns what it reads from the platform (recorded time): the later of the
    run's ``now`` and the clock. A run that starts late, or a replay at an earlier ``now``,
    still takes records stamped up to the real time instead of refusing them as future;
    what a period's results may use is cut by valid month (``models.plans.as_of``)."""
    return max(now, clock(runtime))


def claim_run(
    runtime: Runtime, cycle: Cycle, period: Period, now: datetime, force: bool = False
) -> Claim:
    """Claim ``period`` of ``cycle`` for this flow run (see `tasks.cycle_runs.claim_cycle_task`)."""
    return claim_cycle_task(runtime, cycle.value, period.key, now, current_flow_run_id(), force)


def skipped_run(cycle: Cycle, period: Period, claim: Claim) -> State[Any]:
    """The end state of a run that does nothing: ``Completed`` when the period is done,
    ``Cancelled`` named ``Busy`` when a live run holds it (a parent sees it and stops)."""
    if claim.outcome == "busy":
        held_by, _, since = (claim.holder or "?@").partition("@")
        local = _beijing(since)
        return Cancelled(
            name="Busy",
            message=(
                f"{cycle.value} {period.key} 正由另一次运行处理中（流程运行 {held_by}，"
                f"北京时间 {local} 起）；请待其结束后再运行。"
            ),
            data={"outcome": "busy"},
        )
    return Completed(message=f"{period.key} already {claim.status}", data={"outcome": "done"})


def _beijing(iso: str) -> str:
    try:
        return local_text(datetime.fromisoformat(iso))
    except ValueError:
        return iso or "未知时间"


def finish_run(
    runtime: Runtime, claim: Claim, status: str, summary: dict[str, Any], now: datetime
) -> None:
    """Record how the claimed run ended (``completed`` or ``partial``)."""
    finish_cycle_task(runtime, claim.run_id, status, summary, now)


def fail_claim(flow: Any, run: Any, state: State[Any]) -> None:
    """Flow hook: a run that failed, crashed or was cancelled marks its claims ``failed``.

    The error text is the state's message; the time is the state's own. Runs killed
    outright never get here: their claim is released by the next run (`judge_holder`).
    """
    error = state.message or state.name or "failed"
    runtime = current_runtime()  # a hook is an entry point of its own
    at = state.timestamp if state.timestamp is not None else runtime.clock()
    fail_flow_run_claims(
        runtime.engine, str(run.id), error, datetime.fromtimestamp(at.timestamp(), UTC)
    )


CYCLE_HOOKS: dict[str, Any] = {
    "on_failure": [fail_claim],
    "on_crashed": [fail_claim],
    "on_cancellation": [fail_claim],
}
"""``@flow(..., **CYCLE_HOOKS)`` on every cycle flow."""


def current_flow_run_id() -> str | None:
    run_id = flow_run.id
    return str(run_id) if run_id else None


def run_cycles_below(
    cycle: Cycle, period: Period, below: Callable[..., Any], now: datetime | None = None
) -> None:
    """Run, as subflows and in order, each run below ``cycle``'s ``period`` (``cycles_below``).

    ``below`` is the flow of the cycle below; each run is a no-op when its period is
    done. Raises when one does not complete (failed, or ``Busy``): a higher cycle never
    builds on a gap. ``now``: the parent's time, handed down as the runs' ``now``.
    """
    for lower_cycle, lower in cycles_below(cycle, period):
        name = getattr(below, "name", lower_cycle.value)
        if name != lower_cycle.value:
            raise ValueError(f"{cycle.value} builds on {lower_cycle.value}, not on {name}")
        at = {"now": now} if now is not None else {}
        state = below(period=lower.key, return_state=True, **at)
        if not state.is_completed():
            raise RuntimeError(
                f"{lower_cycle.value} {lower.key} ended {state.name}: {state.message}"
            )
