"""Benchmark: the end-to-end monthly analysis of a synthetic province, next to its I/O floor.

For each size (unit-indicator records a month) it prints, measured in the same run:

- ``analysis``: the ``monthly_analysis`` flow on a real (local) Prefect server —
  collection from the simulator, computation, ledgers, digests into the outbox —
  followed by ``deliver_outbox`` delivering the digests to a loopback HTTP receiver
  (``bench.receiver``, in a process of its own, as real receivers are elsewhere);
- ``floor``: the same pages fetched and parsed with no processing, plus the same rows
  bulk-inserted into a scratch table with nothing else;
- the analysis process's peak memory (the simulator and Prefect server are separate
  processes).

Run from the project folder (a size per run keeps peak-memory figures apart)::

    .venv/bin/python -m bench.monthly_analysis --records 10000
    .venv/bin/python -m bench.monthly_analysis --records 100000 --db postgresql
    .venv/bin/python -m bench.monthly_analysis --records 1000000 --db postgresql

This is a script, never a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.province import ROOT, YEAR, province, simulator, use_environment
from bench.receiver import received, receiver
from models.catalog.schema import Catalog, UnitRow
from models.persistence.database import make_engine, session_scope, upgrade_database
from tasks.catalog import save_catalog
from tasks.platform import PlatformClient

TOKEN = "bench-token"
MONTH = f"{YEAR}-03"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'province.db'}"
        return
    name = f"assess_province_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _with_channels(catalog: Catalog, receiver_url: str) -> Catalog:
    host = receiver_url.removeprefix("http://")
    units = tuple(
        UnitRow(**{**u.__dict__, "channels": (f"json://{host}/u/{u.code}",)}) for u in catalog.units
    )
    return Catalog(catalog.years, units, catalog.items, catalog.indicators)


async def _fetch_pages(url: str) -> list[list[dict[str, Any]]]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        client = PlatformClient(http, token=TOKEN)
        return [page.items async for page in client.iter_progress(MONTH)]


async def _count_records(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        client = PlatformClient(http, token=TOKEN)
        return sum([len(page.items) async for page in client.iter_progress(MONTH)])


FLOOR_COLUMNS = (
    "id", "record_id", "period", "unit_id", "indicator_id", "value", "status",
    "updated_at", "collected_at", "evidence_count",
)  # fmt: skip


def _utc(value: object) -> datetime:
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _sqlite_ready(value: object) -> object:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return float(value) if isinstance(value, Decimal) else value


def floor(url: str, db_url: str) -> tuple[float, float, int]:
    """Fetch+parse the month, then bulk-insert the same rows into a scratch table with no
    index or constraint, the fastest way we know: the rows ready for the driver (untimed),
    then one ``executemany`` on SQLite, ``COPY`` on PostgreSQL (timed)."""
    started = time.perf_counter()
    pages = asyncio.run(_fetch_pages(url))
    fetch = time.perf_counter() - started
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_floor"))
        conn.execute(text("CREATE TABLE bench_floor AS SELECT * FROM progress_record WHERE 1 = 0"))
        units: dict[str, int] = {
            code: uid for code, uid in conn.execute(text("SELECT code, id FROM unit"))
        }
        indicators: dict[str, int] = {
            code: iid for code, iid in conn.execute(text("SELECT code, id FROM indicator"))
        }
    rows: list[tuple[object, ...]] = [
        (
            n,
            r.get("record_id"),
            MONTH,
            units.get(str(r.get("unit_code")), 0),
            indicators.get(str(r.get("indicator_code")), 0),
            Decimal(str(r["value"])) if isinstance(r.get("value"), int | float) else None,
            r.get("status"),
            _utc(r.get("updated_at")),
            _utc(r.get("updated_at")),
            0,
        )
        for n, r in enumerate((r for page in pages for r in page), start=1)
    ]
    names = ", ".join(FLOOR_COLUMNS)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:  # as the driver takes them (what the column types would bind), untimed
        rows = [tuple(_sqlite_ready(v) for v in row) for row in rows]
    started = time.perf_counter()
    with engine.begin() as conn:
        if sqlite:
            marks = ", ".join("?" * len(FLOOR_COLUMNS))
            conn.exec_driver_sql(f"INSERT INTO bench_floor ({names}) VALUES ({marks})", rows)
        else:
            cursor: Any = conn.connection.cursor()
            with cursor.copy(f"COPY bench_floor ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    insert = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_floor"))
    engine.dispose()
    return fetch, insert, len(rows)


def task_seconds(flow_run_id: Any) -> dict[str, float]:
    """Seconds spent in each kind of task of the flow run (summed over batches)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
        )
    out: dict[str, float] = {}
    for run in runs:
        if run.start_time and run.end_time:
            name = run.name.rsplit("-", 1)[0]  # "analyse-batch-3" → "analyse-batch"
            seconds = (run.end_time - run.start_time).total_seconds()
            out[name] = round(out.get(name, 0.0) + seconds, 2)
    return out


@contextmanager
def delivery_worker(send_at: datetime, workdir: Path) -> Iterator[Callable[[], int]]:
    """``bench.deliver_loop`` in a process of its own; the callable tells it that all is
    queued and waits until it has sent everything (it returns how many it sent)."""
    stop = workdir / "stop-delivering"
    argv = [sys.executable, "-m", "bench.deliver_loop", "--at", send_at.isoformat(),
            "--stop-file", str(stop)]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip

    def finish() -> int:
        stop.touch()
        out, _ = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"the delivery worker exited with {proc.returncode}")
        return int(out.strip().splitlines()[-1])

    try:
        yield finish
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


#: What a refactor must leave identical (``--hash``): the month's ledgers, assessments,
#: results and messages.
HASHED_TABLES = (
    "deduction_entry",
    "warning_entry",
    "negative_list_entry",
    "monthly_assessment",
    "result_entry",
    "message",
)
#: Surrogate ids and references to them: the rows a batch inserts can come in another
#: order from one run to the next (set iteration follows the per-process string hash), so
#: their ids are left out. ``cycle_run_id`` is kept: a fresh database has one cycle run.
#: ``claimed_by``/``lease_until``: the delivery run's. Every ``*_at`` column (wall-clock
#: times of the run) is left out too.
VOLATILE = {"id", "corrects_id", "supersedes_id", "merged_into_id", "claimed_by", "lease_until"}


def ledger_hashes(db_url: str) -> dict[str, str]:
    """A SHA-256 per table over its rows' meaningful columns, rows sorted canonically.

    Each row is ``name=value|...`` over the table's columns but ``VOLATILE`` ones and
    those ending in ``_at``, in the table's column order; the rows are sorted as text
    and joined by newlines. Values are as the driver returns them, so compare hashes
    of the same backend only.
    """
    engine = make_engine(db_url)
    out: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            for table in HASHED_TABLES:
                result = conn.execute(text(f"SELECT * FROM {table}"))
                keep = [
                    (i, name)
                    for i, name in enumerate(result.keys())
                    if name not in VOLATILE and not name.endswith("_at")
                ]
                rows = result.all()
                canon = sorted("|".join(f"{name}={row[i]}" for i, name in keep) for row in rows)
                digest = hashlib.sha256("\n".join(canon).encode()).hexdigest()
                out[table] = f"{len(rows)} rows {digest}"
    finally:
        engine.dispose()
    return out


def run(
    records: int,
    kind: str,
    per_unit: int,
    seed: int,
    overlap: bool = False,
    hashes: bool = False,
) -> dict[str, Any]:
    units, indicators, catalog = province(records, per_unit, seed)
    with (
        tempfile.TemporaryDirectory() as tmp,
        receiver() as receiver_url,
        simulator(len(units), len(indicators), seed, TOKEN) as sim_url,
        scratch_database(kind, Path(tmp)) as db_url,
    ):
        use_environment(db_url, sim_url, TOKEN, Path(tmp))
        started = time.perf_counter()
        upgrade_database(db_url)
        engine = make_engine(db_url)
        with session_scope(engine) as session:
            save_catalog(session, _with_channels(catalog, receiver_url))
        engine.dispose()
        load = time.perf_counter() - started
        # Warm the simulator's month and the Prefect server, untimed (pages not kept, so
        # the peak memory below is the analysis's own).
        asyncio.run(_count_records(sim_url))
        from prefect import flow

        from flows.deliver_outbox import deliver_outbox
        from flows.monthly_analysis import monthly_analysis
        from tasks.runtime import build_runtime

        @flow(name="bench_warm_up")
        def warm_up() -> None:
            return None

        warm_up()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # One clock for the run: the digests are due at the send time of the analysis's
        # own time (due_at), so delivery at an earlier reading of the clock sends nothing.
        analysed_at = datetime.now(UTC)
        send_at = build_runtime().calendar.message_send_time(analysed_at)
        extra: dict[str, Any] = {}
        with contextlib.ExitStack() as stack:
            finish = stack.enter_context(delivery_worker(send_at, Path(tmp))) if overlap else None
            load_before = os.getloadavg()[0]
            started, cpu_started = time.perf_counter(), time.process_time()
            state = monthly_analysis(period=MONTH, now=analysed_at, return_state=True)
            analysis = time.perf_counter() - started
            analysis_cpu = time.process_time() - cpu_started
            load_after = os.getloadavg()[0]
            if finish is not None:
                extra["delivered_during_analysis"] = finish()
                extra["all_delivered_s"] = round(time.perf_counter() - started, 2)
        assert state.is_completed(), state.message
        if hashes:  # the analysis's output, before delivery marks the messages sent
            extra["ledger_hashes"] = ledger_hashes(db_url)
        summary: Any = state.result()
        stages = task_seconds(state.state_details.flow_run_id)
        started = time.perf_counter()
        delivered = deliver_outbox(now=send_at)  # with --overlap-delivery: nothing is left
        delivery = time.perf_counter() - started
        end_to_end = extra.get("all_delivered_s", analysis + delivery)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        messages = received(receiver_url)
        fetch, insert, rows = floor(sim_url, db_url)
    return {
        "records": rows,
        "units": len(units),
        "db": kind,
        "catalog_load_s": round(load, 1),
        "analysis_s": round(analysis, 2),
        "analysis_cpu_s": round(analysis_cpu, 2),
        "load_average_1min": f"{load_before:.2f} -> {load_after:.2f}",
        "delivery_s": round(delivery, 2),
        "messages_received": messages,
        "delivered": delivered,
        "floor_fetch_s": round(fetch, 2),
        "floor_insert_s": round(insert, 2),
        "end_to_end_s": round(end_to_end, 2),
        "ratio_analysis_to_floor": round(analysis / (fetch + insert), 2),
        "ratio_end_to_end_to_floor": round(end_to_end / (fetch + insert), 2),
        "peak_rss_mib": round(peak),
        "rss_before_mib": round(rss_before),
        "cells": summary.get("cells"),
        "analysis_tasks_s": stages,
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--indicators-per-unit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--overlap-delivery",
        action="store_true",
        help="deliver from a second process while the analysis runs (as a second worker "
        "running the outbox deployment does); PostgreSQL only",
    )
    parser.add_argument(
        "--hash",
        action="store_true",
        help="after the timed analysis, print a SHA-256 per ledger table (deduction, "
        "warning, negative list, assessments, results, messages) over its rows' "
        "meaningful columns: what a refactor must leave identical",
    )
    args = parser.parse_args(argv)
    if args.overlap_delivery and args.db != "postgresql":
        parser.error("--overlap-delivery needs --db postgresql (SQLite has one writer)")
    result = run(
        args.records,
        args.db,
        args.indicators_per_unit,
        args.seed,
        args.overlap_delivery,
        args.hash,
    )
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
