"""Not before its time, complete below, and preview: the cycle flows on a real Prefect
server against the simulator, with the clock of the flows set where each test says."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from prefect.artifacts import Artifact
from sqlalchemy import Engine

import flows.common
from flows.annual_assessment import annual_assessment
from flows.half_year_evaluation import half_year_evaluation
from flows.monthly_analysis import monthly_analysis
from flows.quarterly_monitoring import quarterly_monitoring
from models.rules import SHANGHAI

pytestmark = [pytest.mark.flow, pytest.mark.db, pytest.mark.http]

# Wednesday 2 December 2026: November's upload deadline (Monday 7 December) has not passed.
BEFORE_NOVEMBERS_DEADLINE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
# What the platform tells us (intake), as opposed to what a cycle books and sends.
INTAKE = {"progress_record", "collection_watermark", "quarantined_record", "unavailable_value"}


def set_clock(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setattr(flows.common, "time_source", lambda: now)


def row_counts(engine: Engine) -> dict[str, int]:
    """The number of rows of every table of the database."""
    names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
    with engine.connect() as conn:
        return {n: conn.execute(sa.text(f"SELECT COUNT(*) FROM {n}")).scalar_one() for n in names}


def cycle_runs(engine: Engine) -> list[tuple[str, str, str]]:
    """(cycle, period, status) of every recorded run, in the order they were claimed."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT cycle, period, status FROM cycle_run ORDER BY id"))
        return [(c, p, s) for c, p, s in rows]


def artifact(key: str) -> Any:
    """The latest artifact of ``key`` on the test server, or None."""
    found = Artifact.get(key)
    assert not isinstance(found, Coroutine)
    return found


def booked(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k not in INTAKE}


def test_a_monthly_run_before_its_deadline_is_refused_with_its_due_time_and_books_nothing(
    prefect_server: None, settings_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = settings_env
    set_clock(monkeypatch, BEFORE_NOVEMBERS_DEADLINE)
    before = row_counts(engine)
    state = monthly_analysis(period="2026-11", force=True, return_state=True)
    assert state.is_cancelled() and state.name == "NotDue"
    assert "2026年12月8日 09:00" in (state.message or "")
    assert "上传截止日为2026年12月7日" in (state.message or "")
    assert row_counts(engine) == before  # not even the platform was read


@pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning")  # 2027
def test_the_annual_before_its_time_is_refused_and_runs_nothing_below(
    prefect_server: None, settings_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = settings_env
    set_clock(monkeypatch, BEFORE_NOVEMBERS_DEADLINE)
    before = row_counts(engine)
    state = annual_assessment(period="2026", force=True, return_state=True)
    assert state.is_cancelled() and state.name == "NotDue"
    assert "2027年1月6日 12:00" in (state.message or "")
    assert row_counts(engine) == before
    assert cycle_runs(engine) == []


def test_a_quarterly_run_analyses_its_missing_earlier_months_in_order_first(
    prefect_server: None, settings_env: Engine
) -> None:
    engine = settings_env
    assert monthly_analysis(period="2026-03", return_state=True).is_completed()
    assert quarterly_monitoring(period="2026-Q1", return_state=True).is_completed()
    assert cycle_runs(engine) == [
        ("monthly_analysis", "2026-03", "completed"),
        ("monthly_analysis", "2026-01", "completed"),
        ("monthly_analysis", "2026-02", "completed"),
        ("quarterly_monitoring", "2026-Q1", "completed"),
    ]


def test_a_quarterly_run_stops_at_the_first_month_that_does_not_complete(
    prefect_server: None, settings_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = settings_env
    assert monthly_analysis(period="2026-06", return_state=True).is_completed()
    before = booked(row_counts(engine))
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", "not-the-token")  # April cannot be read
    state = quarterly_monitoring(period="2026-Q2", return_state=True)
    assert not state.is_completed()
    assert "2026-04" in (state.message or "")
    runs = {(c, p) for c, p, _ in cycle_runs(engine)}
    assert ("monthly_analysis", "2026-05") not in runs  # never past the gap
    assert ("quarterly_monitoring", "2026-Q2") not in runs
    after = booked(row_counts(engine))
    assert {k: v for k, v in after.items() if k != "cycle_run"} == {
        k: v for k, v in before.items() if k != "cycle_run"
    }


@pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning")  # 2027
def test_a_preview_books_nothing_and_sends_nothing_even_before_its_time(
    prefect_server: None, settings_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = settings_env
    set_clock(monkeypatch, BEFORE_NOVEMBERS_DEADLINE)
    before = row_counts(engine)
    states = [
        monthly_analysis(period="2026-11", preview=True, return_state=True),
        quarterly_monitoring(period="2026-Q4", preview=True, return_state=True),
        half_year_evaluation(period="2026-H2", preview=True, return_state=True),
        annual_assessment(period="2026", preview=True, return_state=True),
    ]
    for state in states:
        assert state.is_completed() and state.name == "Preview", state.message
        assert "预览" in (state.message or "")
    after = row_counts(engine)
    assert booked(after) == booked(before)  # no ledger, result, claim, draw or message
    assert after["cycle_run"] == after["message"] == after["onsite_check_plan"] == 0
    assert after["progress_record"] > 0  # the platform was read for the provisional figures
    markdown = artifact("annual-assessment-2026-preview-report")
    assert markdown is not None and "预览" in (markdown.description or "")
    assert "未记账" in str(markdown.data)
    assert markdown.flow_run_id == states[-1].state_details.flow_run_id
    real = artifact("annual-assessment-2026")  # the real report's key: never a preview's
    runs = {s.state_details.flow_run_id for s in states}
    assert real is None or real.flow_run_id not in runs
