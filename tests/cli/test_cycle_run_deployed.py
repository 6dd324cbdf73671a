"""``assess cycle run`` with a Prefect server that holds the cycle's deployment: the run is
the deployment's, executed by a worker, and the command waits for it and reports it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from deployments.cli_errors import ExitCode
from deployments.main_job import POOL
from tests.fixtures.cli import Ran
from tests.fixtures.demo import TOKEN
from tests.fixtures.deployed import PREFECT, Deployed, run_in_group

pytestmark = [pytest.mark.flow, pytest.mark.slow, pytest.mark.db, pytest.mark.http]


def _wait_for_a_scheduled_run(timeout: float = 60) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    scheduled = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
    )
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while not any(
            run.parameters == {"period": "2026-04"}
            for run in client.read_flow_runs(flow_run_filter=scheduled)
        ):
            assert time.monotonic() < deadline, "the command created no deployment run"
            time.sleep(0.5)


def test_a_cycle_run_goes_through_the_deployment_when_the_server_holds_it(
    deployed: Deployed,
    catalog_db: Engine,
    db_url: str,
    sim: str,
    assess: Callable[..., Ran],
) -> None:
    ran: list[Ran] = []
    command = threading.Thread(
        target=lambda: ran.append(assess("cycle", "run", "monthly_analysis", "--period", "2026-04"))
    )
    command.start()
    _wait_for_a_scheduled_run()  # a ``--run-once`` worker polls once: the run must be there
    env = deployed.env(
        ASSESS_DATABASE_URL=db_url, ASSESS_PLATFORM_URL=sim, ASSESS_PLATFORM_TOKEN=TOKEN
    )
    worker = run_in_group(
        [PREFECT, "worker", "start", "--pool", POOL, "--type", "process",
         "--run-once", "--limit", "1", "--name", "cli-test-worker"],
        env,
        timeout=150,
    )  # fmt: skip
    command.join(timeout=60)
    assert worker.returncode == 0, worker.stdout[-3000:]
    assert not command.is_alive(), "the command waits for the run, then returns"
    [result] = ran
    assert result.code == ExitCode.OK, result
    assert "经部署 monthly_analysis/" in result.out
    assert "月分析 2026-04：已完成（分析完成）" in result.out
    with catalog_db.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM cycle_run WHERE cycle = 'monthly_analysis'")
        ).scalar_one()
    assert status == "completed"
