"""补跑: run one cycle for every due period in a range that is missing, failed, or all of them.

Which periods (``models.plans.backfill.pick_periods``) and the report
(``backfill_markdown``) are the core's; this flow loads the recorded runs and the
years' rules, runs the picked periods in order (or through the deployment, in
parallel) and publishes the report.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

from prefect import flow, get_client, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import wait_for_flow_run
from prefect.runtime import flow_run
from prefect.utilities.asyncutils import run_coro_as_sync

from flows.common import clock
from models.plans.backfill import (
    BackfillOutcome,
    Mode,
    backfill_key,
    backfill_markdown,
    cycle_periods,
    pick_periods,
)
from models.rules import Cycle, Period
from models.rules.cycle_runs import STALE_AFTER
from tasks.artifacts import publish_artifacts_task
from tasks.cycle_runs import queue_cycles_task, release_dead_holders_task
from tasks.results import load_cycle_rows_task
from tasks.runtime import Runtime, current_runtime
from tasks.year_rules import load_year_rules_task

CycleName = Literal[
    "pre_deadline_reminder",
    "monthly_analysis",
    "quarterly_monitoring",
    "half_year_evaluation",
    "annual_assessment",
]


def cycle_deployment(cycle: Cycle) -> str:
    """Each cycle's deployment in prefect.yaml: ``monthly_analysis/monthly-analysis``."""
    return f"{cycle.value}/{cycle.value.replace('_', '-')}"


def cycle_flow(cycle: Cycle) -> Callable[..., Any]:
    """The flow of ``cycle`` (module ``flows.<cycle>``, function ``<cycle>``)."""
    try:
        module = importlib.import_module(f"flows.{cycle.value}")
    except ModuleNotFoundError as exc:
        if exc.name != f"flows.{cycle.value}":
            raise
        raise ValueError(
            f"{cycle.value}: no such flow in this deployment; cannot backfill it"
        ) from exc
    fn = getattr(module, cycle.value, None)
    if fn is None:
        raise ValueError(f"{cycle.value}: flows.{cycle.value} has no flow named {cycle.value}")
    return fn  # type: ignore[no-any-return]


def _run_name() -> str:
    params = flow_run.parameters or {}
    cycle = str(params.get("cycle", "monthly_analysis")).replace("_", "-")
    first, last = params.get("first", "2026-01"), params.get("last", "2026-06")
    return f"backfill-{cycle}-{first}-{last}".lower()


@flow(
    name="backfill_cycles",
    flow_run_name=_run_name,
    description="补跑：按顺序补跑某一周期在给定区间内已到运行时间、未运行、失败或全部的期次。",
)
def backfill_cycles(
    cycle: CycleName = "monthly_analysis",
    first: str = "2026-01",
    last: str = "2026-06",
    mode: Mode = "missing",
    dry_run: bool = False,
    parallel: bool = False,
) -> list[str]:
    """Run ``cycle`` for the chosen periods of [first, last] in order; return their keys.

    Only periods whose scheduled run time has come are chosen (see ``pick_periods``).
    ``parallel``: queue the periods, then start each as a run of the cycle's deployment
    (``cycle_deployment``) so that every worker of the pool can take one; the runs
    still compute the periods in order (each waits for the earlier queued ones).
    """
    logger = get_run_logger()
    runtime = current_runtime()
    the_cycle = Cycle(cycle)
    run = cycle_flow(the_cycle)
    periods = cycle_periods(the_cycle, first, last)
    now = clock(runtime)  # read once: the release, the pick and the queue judge the same instant
    release_dead_holders_task(runtime, the_cycle.value, now)  # a crashed run's claim reads failed
    rows = load_cycle_rows_task(runtime, the_cycle.value)
    rules = load_year_rules_task(runtime, sorted({p.year for p in periods}))
    pick = pick_periods(the_cycle, periods, rows, mode, now, runtime.calendar, rules, STALE_AFTER)
    keys = pick.keys
    logger.info("%s %s..%s mode=%s: %s", cycle, first, last, mode, ", ".join(keys) or "nothing")
    outcomes: list[BackfillOutcome] = []
    chosen = list(pick.chosen)
    if parallel and not dry_run and chosen:
        require_deployment(cycle_deployment(the_cycle))  # before queueing anything
        queue_cycles_task(runtime, the_cycle.value, keys, now)
        ended = run_deployments_in_parallel(runtime, the_cycle, chosen)
        for (p, force), (state_name, message, ok) in zip(chosen, ended, strict=True):
            outcomes.append(BackfillOutcome(p.key, force, f"{state_name}：{message}", ok))
        chosen = []
    for p, force in chosen:
        if dry_run:
            outcomes.append(BackfillOutcome(p.key, force, "演练，未运行"))
            continue
        state = run(period=p.key, force=force, return_state=True)
        result = f"{state.name}：{state.message or ''}"
        outcomes.append(BackfillOutcome(p.key, force, result, state.is_completed()))
    markdown = backfill_markdown(
        cycle, first, last, mode, dry_run=dry_run, parallel=parallel,
        periods=len(periods), pick=pick, outcomes=outcomes,
    )  # fmt: skip
    publish_artifacts_task(backfill_key(cycle, first, last), f"补跑 {cycle}", markdown)
    failed = [o.period for o in outcomes if not o.completed]
    if failed:
        raise RuntimeError(f"{cycle}: {', '.join(failed)} did not complete")
    return keys


def require_deployment(name: str) -> None:
    """A parallel backfill runs the periods through the cycle's deployment: check it exists
    before queueing them (queued periods would hold later runs back for hours)."""
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(name)
    except ObjectNotFound:
        raise ValueError(
            f"parallel backfill needs the deployment {name!r}: run `prefect deploy --all` "
            "first, or backfill without parallel"
        ) from None


def run_deployments_in_parallel(
    runtime: Runtime, cycle: Cycle, chosen: list[tuple[Period, bool]]
) -> list[tuple[str, str, bool]]:
    """Start a deployment run per period (children of this run), wait for all of them;
    return each one's final state name, message and whether it completed."""
    logger = get_run_logger()
    name = cycle_deployment(cycle)
    ids: list[UUID] = []
    # Scheduled a millisecond apart, in period order: workers take the earliest first,
    # so with a pool concurrency limit the runs holding slots are never all waiting.
    base = clock(runtime)
    for n, (p, force) in enumerate(chosen):
        started = run_deployment(
            name,
            parameters={"period": p.key, "force": force},
            scheduled_time=base + timedelta(milliseconds=n),
            timeout=0,
            as_subflow=True,
        )
        assert isinstance(started, FlowRun)
        ids.append(started.id)
    logger.info("started %d runs of %s", len(ids), name)

    async def wait_for_all() -> list[FlowRun]:
        async with get_client() as client:
            waits = (wait_for_flow_run(run_id, timeout=None, client=client) for run_id in ids)
            return list(await asyncio.gather(*waits))

    final: list[FlowRun] = run_coro_as_sync(wait_for_all())
    out = []
    for finished in final:
        state = finished.state
        assert state is not None
        out.append((state.name or str(state.type.value), state.message or "", state.is_completed()))
    return out
