"""Whether the run holding a claim is still there: `judge_holder`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.rules.cycle_runs import STALE_AFTER, HolderFacts, judge_holder

NOW = datetime(2026, 4, 8, 1, 30, tzinfo=UTC)


def facts(
    state: str | None = "RUNNING",
    pid_alive: bool | None = True,
    age: timedelta = timedelta(minutes=5),
) -> HolderFacts:
    return HolderFacts(
        claimed_at=NOW - age,
        flow_run_id="run-1",
        flow_run_state=state,
        host="worker-1",
        pid=4242,
        pid_alive=pid_alive,
    )


@pytest.mark.parametrize("state", ["CRASHED", "FAILED", "CANCELLED", "COMPLETED"])
def test_a_claim_whose_flow_run_ended_is_released_at_once(state: str) -> None:
    verdict = judge_holder(facts(state=state), NOW)
    assert verdict.release
    assert state in verdict.reason and "run-1" in verdict.reason


def test_a_claim_whose_flow_run_prefect_does_not_know_is_released() -> None:
    assert judge_holder(facts(state="MISSING"), NOW).release


def test_a_claim_whose_process_was_killed_is_released_though_prefect_says_running() -> None:
    verdict = judge_holder(facts(state="RUNNING", pid_alive=False), NOW)
    assert verdict.release
    assert "4242" in verdict.reason and "worker-1" in verdict.reason


@pytest.mark.parametrize("state", ["RUNNING", "PENDING", None])
def test_a_live_holder_keeps_its_claim(state: str | None) -> None:
    assert not judge_holder(facts(state=state, pid_alive=True), NOW).release


def test_a_holder_on_another_host_keeps_its_claim_until_the_last_resort_timeout() -> None:
    fresh = facts(state="RUNNING", pid_alive=None, age=STALE_AFTER)
    old = facts(state="RUNNING", pid_alive=None, age=STALE_AFTER + timedelta(seconds=1))
    assert not judge_holder(fresh, NOW).release
    assert judge_holder(old, NOW).release


def test_a_holder_seen_alive_on_this_host_keeps_its_claim_however_long_it_runs() -> None:
    assert not judge_holder(
        facts(state="RUNNING", pid_alive=True, age=STALE_AFTER * 3), NOW
    ).release


def test_when_prefect_cannot_be_asked_a_dead_process_still_releases_the_claim() -> None:
    assert judge_holder(facts(state=None, pid_alive=False), NOW).release
    assert not judge_holder(facts(state=None, pid_alive=None), NOW).release
