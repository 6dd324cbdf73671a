"""One run lifecycle: a failed or crashed run's claim reads failed, a rerun proceeds at
once, a run that finds its period held by a live run ends Busy, and a run's time."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.client.schemas.objects import State
from sqlalchemy import Engine

import flows.common
from flows.common import run_clock
from flows.monthly_analysis import monthly_analysis
from flows.quarterly_monitoring import quarterly_monitoring
from models.persistence.database import session_scope
from models.rules import SHANGHAI
from tasks.cycle_runs import claim_cycle, this_process
from tasks.runtime import Runtime, build_runtime
from tasks.settings import Settings
from tests.fixtures.demo import TOKEN

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _claims(engine: Engine) -> dict[str, tuple[str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT period, status, summary FROM cycle_run")).all()
    return {p: (s, summary if isinstance(summary, dict) else json.loads(summary or "{}"))
            for p, s, summary in rows}  # fmt: skip


def _flow_run_in(state_type: str) -> str:
    """A flow run on the Prefect server, set to ``state_type`` (the holder of a claim)."""
    from prefect import get_client
    from prefect.client.schemas.objects import StateType

    @flow(name="claim_holder")
    def claim_holder() -> None:
        return None

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(claim_holder)
        client.set_flow_run_state(run.id, State(type=StateType.RUNNING), force=True)
        if state_type != "RUNNING":
            client.set_flow_run_state(run.id, State(type=StateType(state_type)), force=True)
    return str(run.id)


def _hold(engine: Engine, period: str, flow_run_id: str) -> None:
    """A running claim of ``period`` held by ``flow_run_id`` in this (live) process."""
    with session_scope(engine) as session:
        claim = claim_cycle(
            session, "monthly_analysis", period, NOW, flow_run_id, process=this_process()
        )
        assert claim.should_run


# ----------------------------------------------------------------- the clock (no database)


def _no_database() -> Runtime:
    return build_runtime(Settings(database_url="sqlite://"))


@flow(name="what_time")
def what_time(now: datetime | None = None) -> datetime:
    return run_clock(_no_database(), now)


SCHEDULED = "2026-04-08T01:00:00+00:00"  # 09:00 in Beijing
OVERRIDE = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_an_explicit_now_is_the_runs_time_before_any_other_clock(
    prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT__RUNTIME__FLOW_RUN__SCHEDULED_START_TIME", SCHEDULED)
    monkeypatch.setattr(flows.common, "time_source", lambda: OVERRIDE)
    explicit = datetime(2026, 5, 9, 9, 0, tzinfo=SHANGHAI)
    assert what_time(now=explicit) == explicit
    assert what_time(now=explicit).tzinfo == UTC


def test_the_tests_time_source_comes_before_the_scheduled_time(
    prefect_server: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT__RUNTIME__FLOW_RUN__SCHEDULED_START_TIME", SCHEDULED)
    monkeypatch.setattr(flows.common, "time_source", lambda: OVERRIDE)
    assert what_time() == OVERRIDE


def test_a_run_without_an_explicit_time_runs_at_its_scheduled_time_not_the_wall_clock(
    prefect_server: None,
) -> None:
    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    scheduled = datetime.fromisoformat(SCHEDULED)  # months ago: a late run
    with get_client(sync_client=True) as client:
        created = client.create_flow_run(what_time, state=Scheduled(scheduled_time=scheduled))
        pending = client.read_flow_run(created.id)
    state = run_flow(what_time, flow_run=pending, return_type="state")
    assert isinstance(state, State) and state.is_completed()
    assert state.result() == scheduled


def test_outside_a_flow_run_the_time_is_the_wall_clock() -> None:
    before = datetime.now(UTC)
    assert before <= run_clock(_no_database()) <= datetime.now(UTC)


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        run_clock(_no_database(), datetime(2026, 4, 8, 9, 0))


# ------------------------------------------------------------------- claims and failures


@pytest.mark.flow
@pytest.mark.db
@pytest.mark.http
def test_a_run_that_raises_marks_its_claim_failed_and_a_rerun_proceeds(
    prefect_server: None, settings_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", "not-the-token")  # the platform refuses it
    failed = monthly_analysis(period="2026-03", now=NOW, return_state=True)
    assert failed.is_failed()
    status, summary = _claims(settings_env)["2026-03"]
    assert status == "failed"
    assert "token" in str(summary.get("error", ""))
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
    again = monthly_analysis(period="2026-03", now=NOW, return_state=True)
    assert again.is_completed() and again.name == "Completed"
    status, summary = _claims(settings_env)["2026-03"]
    assert status == "completed"
    [failure] = summary["failures"]  # the failed attempt stays on record
    assert "token" in str(failure["error"])


@pytest.mark.flow
@pytest.mark.db
@pytest.mark.http
@pytest.mark.parametrize("holder_state", ["CRASHED", "CANCELLED", "FAILED"])
def test_a_claim_held_by_an_ended_flow_run_is_released_at_once(
    prefect_server: None, settings_env: Engine, holder_state: str
) -> None:
    _hold(settings_env, "2026-03", _flow_run_in(holder_state))
    state = monthly_analysis(period="2026-03", now=NOW, return_state=True)
    assert state.is_completed() and state.name == "Completed", state.message
    with settings_env.connect() as conn:
        status, attempts = conn.execute(
            sa.text("SELECT status, attempts FROM cycle_run WHERE period = '2026-03'")
        ).one()
    assert (status, attempts) == ("completed", 2)


@pytest.mark.flow
@pytest.mark.db
@pytest.mark.http
def test_a_period_held_by_a_live_run_ends_busy_and_its_parent_does_not_go_on(
    prefect_server: None, settings_env: Engine
) -> None:
    holder = _flow_run_in("RUNNING")
    _hold(settings_env, "2026-02", holder)
    busy = monthly_analysis(period="2026-02", now=NOW, return_state=True)
    assert busy.name == "Busy" and not busy.is_completed()
    assert holder in (busy.message or "") and "正由另一次运行处理中" in (busy.message or "")
    parent = quarterly_monitoring(period="2026-Q1", now=NOW, return_state=True)
    assert parent.is_failed()
    assert "Busy" in (parent.message or "")
    claims = _claims(settings_env)
    assert claims["2026-02"][0] == "running"  # the live holder keeps it
    assert "2026-Q1" not in claims  # the quarter never claimed anything
    assert "2026-03" not in claims  # and did not run the month after the busy one


@pytest.mark.flow
@pytest.mark.db
@pytest.mark.http
def test_a_parent_hands_its_time_to_the_runs_below_it(
    prefect_server: None, settings_env: Engine
) -> None:
    state = quarterly_monitoring(period="2026-Q1", now=NOW, return_state=True)
    assert state.is_completed(), state.message
    with settings_env.connect() as conn:
        claimed = conn.execute(sa.text("SELECT period, claimed_at FROM cycle_run")).all()
    assert {p for p, _ in claimed} == {"2026-01", "2026-02", "2026-03", "2026-Q1"}
    for _, at in claimed:
        at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        assert at.replace(tzinfo=at.tzinfo or UTC) == NOW


def test_the_claiming_process_is_this_one() -> None:
    assert this_process()["pid"] == os.getpid()
