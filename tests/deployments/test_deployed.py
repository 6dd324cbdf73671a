"""The deployments on a real Prefect server: schedules, a worker's run, the failure alert."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from deployments.main_job import POOL
from deployments.prefect_setup import AUTOMATION_NAME, setup_alerts
from tests.fixtures.demo import TOKEN
from tests.fixtures.deployed import PREFECT, Deployed, run_in_group
from tests.fixtures.receivers import HttpReceiver

pytestmark = [
    pytest.mark.flow,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated"),  # apprise, on Python 3.11
]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _server_dates(schedule: object, start: datetime, end: datetime) -> list[datetime]:
    """The run times the server's scheduler computes from a deployed schedule."""
    from prefect.server.schemas.schedules import RRuleSchedule

    assert hasattr(schedule, "rrule") and hasattr(schedule, "timezone")
    server = RRuleSchedule(rrule=schedule.rrule, timezone=schedule.timezone)
    return list(asyncio.run(server.get_dates(start=start, end=end)))


def test_the_deployed_schedules_are_the_working_day_adjusted_timetable(
    deployed: Deployed,
) -> None:
    from prefect import get_client

    october = (datetime(2026, 10, 1, tzinfo=SHANGHAI), datetime(2026, 10, 31, tzinfo=SHANGHAI))
    with get_client(sync_client=True) as client:
        monthly = client.read_deployment_by_name("monthly_analysis/monthly-analysis")
        quarterly = client.read_deployment_by_name("quarterly_monitoring/quarterly-monitoring")
        reminder = client.read_deployment_by_name("pre_deadline_reminder/pre-deadline-reminder")
        outbox = client.read_deployment_by_name("deliver_outbox/send-due-messages")
        backfill = client.read_deployment_by_name("backfill_cycles/backfill-missed-periods")

    assert monthly.work_pool_name == POOL
    [schedule] = monthly.schedules
    assert schedule.slug == "monthly-analysis-timetable"
    assert schedule.active
    # September 2026's deadline (5 October, in the National Day holiday) moves to
    # 8 October, so its monthly analysis runs on 9 October at 09:00 Beijing time.
    assert _server_dates(schedule.schedule, *october) == [
        datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI)
    ]
    all_2026 = _server_dates(
        schedule.schedule,
        datetime(2026, 1, 1, tzinfo=SHANGHAI),
        datetime(2026, 12, 31, tzinfo=SHANGHAI),
    )
    assert [d.isoformat() for d in all_2026][:3] == [
        "2026-02-06T09:00:00+08:00",
        "2026-03-06T09:00:00+08:00",
        "2026-04-08T09:00:00+08:00",
    ]
    assert len(all_2026) == 11  # December 2026's analysis runs in January 2027

    [q] = quarterly.schedules
    assert _server_dates(q.schedule, *october) == [datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)]
    [r] = reminder.schedules
    september = (datetime(2026, 9, 1, tzinfo=SHANGHAI), datetime(2026, 9, 30, tzinfo=SHANGHAI))
    # August's reminder only: September's waits for the month's end, on 8 October.
    assert _server_dates(r.schedule, *september) == [datetime(2026, 9, 3, 9, 0, tzinfo=SHANGHAI)]
    assert datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI) in _server_dates(r.schedule, *october)
    # The outbox runs every 15 minutes of office hours on working days only (one schedule a
    # year): not on the National Day holiday, but on the make-up Saturday 10 October.
    o = next(s for s in outbox.schedules if s.slug == "deliver-outbox-office-hours-2026")
    assert getattr(o.schedule, "timezone", None) == "Asia/Shanghai"
    week = (datetime(2026, 10, 5, tzinfo=SHANGHAI), datetime(2026, 10, 11, tzinfo=SHANGHAI))
    outbox_days = sorted({d.date() for d in _server_dates(o.schedule, *week)})
    assert [d.isoformat() for d in outbox_days] == ["2026-10-08", "2026-10-09", "2026-10-10"]
    # One outbox run at a time: a run that would overlap the one still sending is cancelled.
    assert outbox.global_concurrency_limit is not None
    assert outbox.global_concurrency_limit.limit == 1
    assert outbox.concurrency_options is not None
    assert outbox.concurrency_options.collision_strategy == "CANCEL_NEW"
    assert backfill.schedules == []
    # Parameters are typed, so the UI renders forms.
    assert monthly.parameter_openapi_schema and backfill.parameter_openapi_schema
    props = monthly.parameter_openapi_schema["properties"]
    assert {"period", "force", "preview"} <= set(props)
    assert props["force"]["type"] == "boolean"
    assert set(backfill.parameter_openapi_schema["properties"]["mode"]["enum"]) == {
        "missing",
        "failed",
        "all",
    }


@pytest.mark.db
@pytest.mark.http
def test_a_worker_runs_a_deployment_with_parameters_and_publishes_its_artifacts(
    deployed: Deployed, catalog_db: Engine, db_url: str, sim: str
) -> None:
    from prefect import get_client
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    run = run_deployment(
        "monthly_analysis/monthly-analysis", parameters={"period": "2026-03"}, timeout=0
    )
    assert isinstance(run, FlowRun)
    env = deployed.env(
        ASSESS_DATABASE_URL=db_url, ASSESS_PLATFORM_URL=sim, ASSESS_PLATFORM_TOKEN=TOKEN
    )
    worker = run_in_group(
        [
            PREFECT,
            "worker",
            "start",
            "--pool",
            POOL,
            "--type",
            "process",
            "--run-once",
            "--limit",
            "1",
            "--name",
            "test-worker",
        ],
        env,
        timeout=150,
    )
    assert worker.returncode == 0, worker.stdout[-3000:]
    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(run.id)
        assert finished.state is not None
        assert finished.state.is_completed(), (finished.state, worker.stdout[-3000:])
        assert finished.name == "monthly-analysis-2026-03"
        assert finished.parameters == {"period": "2026-03"}
        assert "assessment-calendar" in finished.tags
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    by_key = {a.key: a for a in artifacts if a.key}
    assert {"monthly-analysis-2026-03", "monthly-analysis-2026-03-report"} <= set(by_key)
    assert by_key["monthly-analysis-2026-03"].type == "table"
    assert "2026-03 月分析" in str(by_key["monthly-analysis-2026-03-report"].data)
    with catalog_db.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM cycle_run WHERE cycle = 'monthly_analysis'")
        ).scalar_one()
        booked = conn.execute(sa.text("SELECT COUNT(*) FROM deduction_entry")).scalar_one()
    assert status == "completed"
    assert booked > 0


@pytest.mark.http
def test_a_failed_cycle_run_notifies_the_operations_channel(deployed: Deployed) -> None:
    from prefect import get_client

    from flows.monthly_analysis import monthly_analysis

    receiver = HttpReceiver().start()
    try:
        first = setup_alerts([receiver.json_url("/ops")])
        again = setup_alerts([receiver.json_url("/ops")])  # idempotent
        assert again.automation_id == first.automation_id and not again.created
        with get_client(sync_client=True) as client:
            assert len(client.read_automations_by_name(AUTOMATION_NAME)) == 1
        time.sleep(2)  # the triggers service picks up the automation
        state = monthly_analysis(period="2026-13", return_state=True)  # no 13th month: fails
        assert state.is_failed()
        deadline = time.monotonic() + 45
        while not receiver.received("/ops") and time.monotonic() < deadline:
            time.sleep(0.5)
        [post] = receiver.received("/ops")
    finally:
        receiver.stop()
    alert = post.json
    assert "monthly-analysis-unknown" in alert["title"]
    assert "Failed" in alert["title"]
    assert "流程：monthly_analysis" in alert["message"]
    assert "2026-13" in alert["message"]
