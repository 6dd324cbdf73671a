"""Runs of one cycle are put in order by period: queued claims hold later periods back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.persistence.tables import AssessmentYear, CycleRun
from tasks.cycle_runs import (
    STALE_AFTER,
    blocking_period,
    claim_cycle,
    finish_cycle,
    queue_cycles,
)

pytestmark = pytest.mark.db

NOW = datetime(2026, 5, 10, 2, 0, tzinfo=UTC)
CYCLE = "monthly_analysis"


def test_a_month_waits_for_the_earliest_queued_or_running_month_of_its_year(
    catalog_db: Engine,
) -> None:
    with session_scope(catalog_db) as session:
        assert queue_cycles(session, CYCLE, ["2026-01", "2026-02", "2026-03"], NOW) == [
            "2026-01",
            "2026-02",
            "2026-03",
        ]
    with session_scope(catalog_db) as session:
        assert blocking_period(session, CYCLE, "2026-01", NOW) is None
        blocker = blocking_period(session, CYCLE, "2026-03", NOW)
        assert blocker is not None and (blocker.period, blocker.status) == ("2026-01", "queued")
        first = claim_cycle(session, CYCLE, "2026-01", NOW, "run-1")
        assert first.should_run and first.outcome == "claimed"
    with session_scope(catalog_db) as session:
        blocker = blocking_period(session, CYCLE, "2026-03", NOW)
        assert blocker is not None and (blocker.period, blocker.status) == ("2026-01", "running")
        finish_cycle(session, first.run_id, "completed", {}, NOW)
    with session_scope(catalog_db) as session:
        blocker = blocking_period(session, CYCLE, "2026-03", NOW)
        assert blocker is not None and blocker.period == "2026-02"
        # Another year and another cycle never hold a month back.
        assert blocking_period(session, CYCLE, "2027-01", NOW) is None
        assert blocking_period(session, "quarterly_monitoring", "2026-Q2", NOW) is None


def test_claiming_a_queued_month_is_its_first_claim_and_freezes_the_year(
    catalog_db: Engine,
) -> None:
    with session_scope(catalog_db) as session:
        queue_cycles(session, CYCLE, ["2026-04"], NOW)
        year = session.get(AssessmentYear, 2026)
        assert year is not None and year.frozen_at is None
    with session_scope(catalog_db) as session:
        claim = claim_cycle(session, CYCLE, "2026-04", NOW, "run-4")
        again = claim_cycle(session, CYCLE, "2026-04", NOW, "run-4b")
        year = session.get(AssessmentYear, 2026)
        assert year is not None and year.frozen_at is not None
    assert (claim.outcome, again.outcome) == ("claimed", "busy")


def test_a_stale_queued_month_no_longer_holds_later_months_back(catalog_db: Engine) -> None:
    with session_scope(catalog_db) as session:
        queue_cycles(session, CYCLE, ["2026-01"], NOW)
    later = NOW + STALE_AFTER + timedelta(minutes=1)
    with session_scope(catalog_db) as session:
        assert blocking_period(session, CYCLE, "2026-02", NOW) is not None
        assert blocking_period(session, CYCLE, "2026-02", later) is None


def test_queueing_leaves_a_running_month_to_its_run_and_requeues_a_failed_one(
    catalog_db: Engine,
) -> None:
    with session_scope(catalog_db) as session:
        running = claim_cycle(session, CYCLE, "2026-01", NOW, "run-1")
        failed = claim_cycle(session, CYCLE, "2026-02", NOW, "run-2")
        finish_cycle(session, failed.run_id, "failed", {}, NOW)
    with session_scope(catalog_db) as session:
        assert queue_cycles(session, CYCLE, ["2026-01", "2026-02"], NOW) == ["2026-02"]
    with session_scope(catalog_db) as session:
        requeued = session.get(CycleRun, failed.run_id)
        assert requeued is not None
        assert (requeued.status, requeued.flow_run_id) == ("queued", None)  # not run-2's
    with session_scope(catalog_db) as session:
        again = claim_cycle(session, CYCLE, "2026-02", NOW, "run-2b")
        assert again.outcome == "reclaimed" and again.run_id == failed.run_id
        assert claim_cycle(session, CYCLE, "2026-01", NOW, "x").run_id == running.run_id
