"""The scale path: a Prefect server on PostgreSQL, two process workers, months run concurrently.

A parallel backfill queues 2026-01..04 in our database and starts each month as a run
of ``monthly_analysis/monthly-analysis``; two workers take the runs at once. Each run waits for
the earlier queued months of its year, so the ledgers end exactly as when the months
are run one by one (checked against a sequential run into a second database).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from deployments.demo.build_catalog import demo_catalog
from deployments.main_job import POOL
from deployments.processes import ProcessGroups
from models.persistence.database import make_engine, session_scope, upgrade_database
from tasks.catalog import save_catalog
from tests.fixtures.databases import PG_URL
from tests.fixtures.demo import TOKEN
from tests.fixtures.deployed import PREFECT, Deployed, deploy_to

pytestmark = [
    pytest.mark.flow,
    pytest.mark.slow,
    pytest.mark.db,
    pytest.mark.http,
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated"),  # apprise, on Python 3.11
]

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]
COMPARED = ("deduction_entry", "warning_entry", "negative_list_entry", "monthly_assessment")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """A Prefect server of its own on PostgreSQL, with prefect.yaml deployed to it."""
    name = f"assess_prefect_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    folder = tmp_path_factory.mktemp("pg-prefect")
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    server_db = make_url(PG_URL).set(drivername="postgresql+asyncpg", database=name)
    deployed = Deployed(api_url, folder / "prefect.yaml", folder / "home")
    groups = ProcessGroups(folder / "logs")
    server = groups.start(
        "prefect-server",
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        deployed.env(
            PREFECT_SERVER_DATABASE_CONNECTION_URL=server_db.render_as_string(hide_password=False),
        ),
        Path.cwd(),
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.alive(), server.log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the Prefect server did not start in 120 s"
            time.sleep(0.5)
        yield deploy_to(deployed)
    finally:
        groups.stop(echo=lambda _line: None)
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def ledger_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the compared tables, in id order, without the clock's columns."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    meta = sa.MetaData()
    with engine.connect() as conn:
        for name in COMPARED:
            table = sa.Table(name, meta, autoload_with=conn)
            columns = [
                c for c in table.columns if not isinstance(c.type, sa.DateTime | sa.TIMESTAMP)
            ]
            columns = [c for c in columns if not c.name.endswith("_at")]
            rows = conn.execute(sa.select(*columns).order_by(table.c.id)).all()
            out[name] = [tuple(r) for r in rows]
    return out


def _sequential_reference(url: str, sim: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    from flows.monthly_analysis import monthly_analysis

    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        save_catalog(session, demo_catalog())
    monkeypatch.setenv("ASSESS_DATABASE_URL", url)
    monkeypatch.setenv("ASSESS_PLATFORM_URL", sim)
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
    for month in MONTHS:
        assert monthly_analysis(period=month, return_state=True).is_completed()
    return engine


def _overlapping(runs: list[Any]) -> int:
    """How many pairs of runs were running at the same time."""
    spans = [(r.start_time, r.end_time) for r in runs if r.start_time and r.end_time]
    return sum(
        1 for i, (a0, a1) in enumerate(spans) for b0, b1 in spans[i + 1 :] if a0 < b1 and b0 < a1
    )


def test_two_workers_running_months_at_once_book_the_same_ledgers_as_one_by_one(
    prefect_server: None,
    pg_prefect: Deployed,
    catalog_db: Engine,
    db_url: str,
    empty_db_url: str,
    sim: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = pg_prefect.env(
        ASSESS_DATABASE_URL=db_url,
        ASSESS_PLATFORM_URL=sim,
        ASSESS_PLATFORM_TOKEN=TOKEN,
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    groups = ProcessGroups(tmp_path / "workers")
    for name in ("worker-a", "worker-b"):
        groups.start(
            name,
            [PREFECT, "worker", "start", "--pool", POOL, "--type", "process", "--name", name],
            env,
            Path.cwd(),
        )
    try:
        with temporary_settings({PREFECT_API_URL: pg_prefect.api_url}):
            backfill = run_deployment(
                "backfill_cycles/backfill-missed-periods",
                parameters={
                    "cycle": "monthly_analysis",
                    "first": MONTHS[0],
                    "last": MONTHS[-1],
                    "parallel": True,
                },
                timeout=400,
            )
            assert isinstance(backfill, FlowRun)
            with get_client(sync_client=True) as client:
                children = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[backfill.id])
                    )
                )
    finally:
        groups.stop(echo=lambda _line: None)
    logs = {p.stem: p.read_text(errors="replace") for p in (tmp_path / "workers").glob("*.log")}
    ended = {r.name: (r.state_name, r.state.message if r.state else None) for r in children}
    assert backfill.state is not None and backfill.state.is_completed(), (
        ended,
        {k: v[-3000:] for k, v in logs.items()},
    )
    months = [r for r in children if r.name.startswith("monthly-analysis-")]
    assert sorted(r.name for r in months) == [f"monthly-analysis-{m}" for m in MONTHS]
    assert all(r.state is not None and r.state.is_completed() for r in months)
    assert _overlapping(months) >= 1, "the months' runs were not running at the same time"
    # The months were computed in order: each claimed after the one before finished.
    with catalog_db.connect() as conn:
        claims = conn.execute(
            text(
                "SELECT period, status, claimed_at, finished_at FROM cycle_run "
                "WHERE cycle = 'monthly_analysis' ORDER BY period"
            )
        ).all()
    assert [(p, s) for p, s, _c, _f in claims] == [(m, "completed") for m in MONTHS]
    finished: list[datetime] = [f for _p, _s, _c, f in claims]
    assert finished == sorted(finished)

    reference = _sequential_reference(empty_db_url, sim, monkeypatch)
    concurrent, one_by_one = ledger_rows(catalog_db), ledger_rows(reference)
    assert {k: len(v) for k, v in concurrent.items()} == {k: len(v) for k, v in one_by_one.items()}
    assert concurrent["deduction_entry"], "the months booked nothing: nothing was compared"
    assert concurrent == one_by_one
    reference.dispose()
