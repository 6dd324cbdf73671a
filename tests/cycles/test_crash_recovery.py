"""A monthly run killed outright (``kill -9``): its claim reads failed as soon as anyone
looks, a rerun right away proceeds, and the end state equals an uninterrupted run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from deployments.demo.build_catalog import demo_catalog
from flows.monthly_analysis import monthly_analysis
from models.persistence.database import make_engine, session_scope, upgrade_database
from tasks.catalog import save_catalog
from tasks.cycle_runs import release_dead_holders
from tests.fixtures.demo import TOKEN, set_faults

pytestmark = [pytest.mark.flow, pytest.mark.db, pytest.mark.http]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
MONTH = "2026-03"
RUN_MONTH = f"""
from datetime import datetime
from flows.monthly_analysis import monthly_analysis
monthly_analysis(period={MONTH!r}, batch_size=1, now=datetime.fromisoformat({NOW.isoformat()!r}))
"""

#: What a run leaves: the ledgers, the month's assessments and the queued messages
#: (without ids and recording times, which differ between any two runs).
END_STATE = {
    "deduction_entry": "unit_id, indicator_id, period, kind, amount",
    "warning_entry": "unit_id, indicator_id, period, level",
    "negative_list_entry": "unit_id, period, event",
    "monthly_assessment": "unit_id, indicator_id, period, level, pre_deduction",
    "message": "key, unit_id, kind, period, subject, body_text, due_at, status",
}


def _end_state(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table: sorted(
                (tuple(str(v) for v in row) for row in conn.execute(sa.text(
                    f"SELECT {columns} FROM {table}"
                ))),
            )
            for table, columns in END_STATE.items()
        }  # fmt: skip


def _claim(engine: Engine) -> tuple[str, dict[str, Any], int]:
    with engine.connect() as conn:
        status, summary, attempts = conn.execute(
            sa.text("SELECT status, summary, attempts FROM cycle_run WHERE period = :p"),
            {"p": MONTH},
        ).one()
    return status, summary if isinstance(summary, dict) else json.loads(summary), attempts


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def _start_monthly_run(db_url: str, sim: str, home: Path) -> subprocess.Popen[bytes]:
    """The month's analysis in a process of its own, on the test's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PYTHONPATH=str(PROJECT_ROOT),
        ASSESS_DATABASE_URL=db_url,
        ASSESS_PLATFORM_URL=sim,
        ASSESS_PLATFORM_TOKEN=TOKEN,
    )
    return subprocess.Popen(
        [sys.executable, "-c", RUN_MONTH],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_until(engine: Engine, stage: str, process: subprocess.Popen[bytes]) -> None:
    """Poll the database until the run is at ``stage``: its claim running (collecting),
    its first batch booked, or its first digest queued (a batch books and queues in one
    transaction)."""
    table = {"booking": "monthly_assessment", "queueing": "message"}.get(stage)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be killed"
        with engine.connect() as conn:
            status = conn.execute(
                sa.text("SELECT status FROM cycle_run WHERE period = :p"), {"p": MONTH}
            ).scalar_one_or_none()
        if status == "running" and (table is None or _count(engine, table)):
            return
        time.sleep(0.05)
    pytest.fail(f"the run did not reach {stage} in time")


@pytest.mark.parametrize("stage", ["collection", "booking", "queueing"])
def test_a_monthly_run_killed_outright_is_recovered_by_an_immediate_rerun(
    prefect_server: None,
    settings_env: Engine,
    db_url: str,
    empty_db_url: str,
    sim: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stage: str,
) -> None:
    engine = settings_env
    if stage == "collection":
        set_faults(sim, slow_ms=300)  # long enough to be killed while collecting
    process = _start_monthly_run(db_url, sim, tmp_path / "prefect-home")
    try:
        _wait_until(engine, stage, process)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    set_faults(sim, clear=True)
    status, summary, _ = _claim(engine)
    assert status == "running"  # killed mid-run: nothing in the process could say otherwise
    assert summary["holder"]["pid"] == process.pid

    # The next look at the cycle (a rerun, a backfill) sees the claim failed: the holder's
    # process is gone though Prefect still says Running. No six-hour wait.
    [verdict] = release_dead_holders(engine, "monthly_analysis", NOW)
    assert verdict.release
    status, summary, _ = _claim(engine)
    assert status == "failed"
    assert str(process.pid) in summary["error"]

    rerun = monthly_analysis(period=MONTH, batch_size=1, now=NOW, return_state=True)
    assert rerun.is_completed() and rerun.name == "Completed", rerun.message
    status, summary, attempts = _claim(engine)
    assert (status, attempts) == ("completed", 2)
    [crash] = summary["failures"]  # the crashed attempt stays on record
    assert crash["attempt"] == 1 and str(process.pid) in crash["error"]
    recovered = _end_state(engine)

    # The same month, run once without interruption in a database of its own.
    upgrade_database(empty_db_url)
    uninterrupted = make_engine(empty_db_url)
    try:
        with session_scope(uninterrupted) as session:
            save_catalog(session, demo_catalog())
        monkeypatch.setenv("ASSESS_DATABASE_URL", empty_db_url)
        once = monthly_analysis(period=MONTH, batch_size=1, now=NOW, return_state=True)
        assert once.is_completed() and once.name == "Completed"
        assert recovered == _end_state(uninterrupted)
    finally:
        uninterrupted.dispose()
    assert recovered["deduction_entry"] and recovered["monthly_assessment"] and recovered["message"]
