"""Benchmark: collect a month of progress records from the platform simulator.

Prints records per second of a full ``collect_progress`` (check every record, store
the versions, quarantine the bad ones) next to the floor measured in the same run:
the same pages fetched and parsed by the same ``PlatformClient`` with no processing.
The aim is collection at 70 % of the floor's rate or better.

The simulator runs in a separate process (its own process group, stopped by pid), so
it does not share the benchmark's interpreter. Its month is generated once by an
untimed warm-up pass; every repeat then measures the floor and a collection into an
empty, migrated database holding the synthetic catalog (loading it is not timed).
Each line also shows the CPU seconds spent by this process, the simulator and, on
PostgreSQL, the server backends of the scratch database.

Last, unless ``--no-processing``: the same collection with the pages served from
memory (recorded from the simulator, replayed through ``httpx.MockTransport``), i.e.
what checking and storing cost without the platform. Peak RSS is taken before it,
as the recorded pages stay in memory.

Run from the project folder::

    .venv/bin/python -m bench.collect_month                     # SQLite, 100,000 records
    .venv/bin/python -m bench.collect_month --db postgresql --repeat 3
    .venv/bin/python -m bench.collect_month --profile collect.prof   # cProfile one collection

This is a script, never a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import platform
import pstats
import resource
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.province import simulator_process as province_simulator
from deployments.platform_sim_data import SimIndicator, SimUnit, synthetic_catalog
from models.catalog.schema import Catalog, IndicatorRow, ItemRow, Milestone, UnitRow, YearRow
from models.persistence.database import make_engine, session_scope, upgrade_database
from models.rules import SHANGHAI, Period, YearRules
from tasks.catalog import save_catalog
from tasks.collect import CollectOutcome, collect_progress
from tasks.platform import PlatformClient

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
YEAR = 2026
MONTH = "2026-03"
UNITS = 100
SEED = 1
CATEGORY = "government"
ITEM = "B01"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 4, 3, 12, 0, tzinfo=SHANGHAI)
AIM = 0.70


# --------------------------------------------------------------------------- the catalog


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))


def bench_catalog(units: list[SimUnit], indicators: list[SimIndicator]) -> Catalog:
    """The synthetic units and indicators as a catalog, so their records validate."""
    return Catalog(
        years=(YearRow(YEAR, f"{YEAR}年度（基准测试）", rules=YearRules().to_dict()),),
        units=tuple(
            UnitRow(
                code=u.code,
                name=u.name,
                kind="department",
                category=CATEGORY,
                on_platform=u.on_platform,
                onboarded_on=u.onboarded_at.date() if u.onboarded_at else None,
            )
            for u in units
        ),
        items=(
            ItemRow(
                year=YEAR,
                code=ITEM,
                name="基准测试事项",
                status="approved",
                decided_by="市考核办",
                decided_on=date(YEAR - 1, 12, 20),
            ),
        ),
        indicators=tuple(
            IndicatorRow(
                year=YEAR,
                code=ind.code,
                item=ITEM,
                name=f"基准指标{ind.code}",
                weight=Decimal("0.1"),
                direction=ind.direction,
                categories=(CATEGORY,),
                target=_decimal(ind.target),
                baseline=_decimal(ind.baseline) if ind.baseline is not None else None,
                plan=tuple(_decimal(v) for v in ind.plan) if ind.plan else None,
                milestones=tuple(
                    Milestone(f"节点{k}", month)
                    for k, month in enumerate(ind.milestone_due_months, start=1)
                ),
                source_field=ind.code.lower(),
            )
            for ind in indicators
        ),
    )


# --------------------------------------------------------------------------- the simulator


@contextlib.contextmanager
def simulator_process(indicators: int, port: int) -> Iterator[tuple[str, int]]:
    """``python -m deployments.platform_sim_cli`` for the benchmark's catalog: (URL, pid)."""
    with province_simulator(UNITS, indicators, SEED, TOKEN, port) as running:
        yield running


# --------------------------------------------------------------------------- databases


@contextlib.contextmanager
def scratch_database(kind: str, pg_url: str, workdir: Path, run: int) -> Iterator[str]:
    """An empty database URL: a fresh SQLite file, or ``assess_bench_<pid>`` (recreated)."""
    if kind == "sqlite":
        path = workdir / f"bench-{run}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"assess_bench_{os.getpid()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def prepare(url: str, catalog: Catalog) -> Engine:
    """Migrate the empty database and load the catalog (not timed)."""
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        save_catalog(session, catalog)
    return engine


# --------------------------------------------------------------------------- measuring

_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid``; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


class CpuMeter:
    """CPU seconds spent by this process, the simulator and (PostgreSQL) the server
    backends serving the scratch database, between ``start`` and ``stop``."""

    def __init__(self, sim_pid: int, pg_admin: Engine | None, database: str | None) -> None:
        self.sim_pid = sim_pid
        self.pg_admin = pg_admin
        self.database = database
        self._start: tuple[float, float, dict[int, float]] = (0.0, 0.0, {})

    def _backends(self) -> dict[int, float]:
        if self.pg_admin is None or self.database is None:
            return {}
        with self.pg_admin.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :db"), {"db": self.database}
            ).scalars()
            return {pid: _proc_cpu(pid) for pid in pids}

    def start(self) -> None:
        self._start = (time.process_time(), _proc_cpu(self.sim_pid), self._backends())

    def stop(self) -> tuple[float, float, float | None]:
        """(this process, simulator, database server or None) CPU seconds."""
        own, sim, backends = self._start
        db: float | None = None
        if self.pg_admin is not None:
            db = sum(cpu - backends.get(pid, 0.0) for pid, cpu in self._backends().items())
        return time.process_time() - own, _proc_cpu(self.sim_pid) - sim, db


@dataclass
class Measure:
    what: str
    records: int
    seconds: float
    cpu: tuple[float, float, float | None]

    @property
    def rate(self) -> float:
        return self.records / self.seconds


def _client(http: httpx.AsyncClient) -> PlatformClient:
    return PlatformClient(http, token=TOKEN, page_limit=1000)


async def fetch_only(url: str, meter: CpuMeter | None = None) -> tuple[int, Measure]:
    """The floor: every page fetched and parsed, nothing else. (pages, measure)"""
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        client = _client(http)
        pages = records = 0
        if meter:
            meter.start()
        started = time.perf_counter()
        async for page in client.iter_progress(MONTH):
            pages += 1
            records += len(page.items)
        seconds = time.perf_counter() - started
        cpu = meter.stop() if meter else (0.0, 0.0, None)
        return pages, Measure("floor", records, seconds, cpu)


async def collect(
    url: str, engine: Engine, meter: CpuMeter, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[CollectOutcome, Measure]:
    """A full collection of the month into ``engine``'s (empty) database."""
    async with httpx.AsyncClient(base_url=url, timeout=120, transport=transport) as http:
        client = _client(http)
        meter.start()
        started = time.perf_counter()
        outcome = await collect_progress(engine, client, Period.parse(MONTH), NOW)
        seconds = time.perf_counter() - started
        cpu = meter.stop()
        what = "collection" if transport is None else "processing"
        return outcome, Measure(what, outcome.records, seconds, cpu)


async def record_pages(url: str) -> dict[str, bytes]:
    """Every page body of the month by request URL (for replaying from memory)."""
    bodies: dict[str, bytes] = {}

    async def keep(response: httpx.Response) -> None:
        bodies[str(response.request.url)] = await response.aread()

    async with httpx.AsyncClient(
        base_url=url, timeout=120, event_hooks={"response": [keep]}
    ) as http:
        async for _ in _client(http).iter_progress(MONTH):
            pass
    return bodies


def replay(bodies: dict[str, bytes]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = bodies[str(request.url)]
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handler)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    for cells in [header, *rows]:
        print(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )


def _cells(run: str, m: Measure, kind: str, ratio: str) -> list[str]:
    own, sim, db = m.cpu
    database = f"{db:.2f}" if db is not None else ("(in bench)" if kind == "sqlite" else "-")
    return [run, m.what, f"{m.records:,}", f"{m.seconds:.2f}", f"{m.rate:,.0f}", ratio,
            f"{own:.2f}", f"{sim:.2f}", database]  # fmt: skip


def report(
    pairs: list[tuple[Measure, Measure]],
    kind: str,
    load: tuple[float, float],
    peak_rss: float,
    processing: Measure | None,
) -> None:
    header = ["run", "measure", "records", "seconds", "records/s", "ratio",
              "cpu: bench s", "simulator s", "database s"]  # fmt: skip
    rows: list[list[str]] = []
    for run, (floor, coll) in enumerate(pairs, start=1):
        rows.append(_cells(str(run), floor, kind, ""))
        rows.append(_cells(str(run), coll, kind, f"{coll.rate / floor.rate:.0%}"))
    best_floor = max(f.rate for f, _ in pairs)
    best = max(c.rate for _, c in pairs)
    if processing is not None:
        rows.append(_cells("-", processing, kind, f"{processing.rate / best_floor:.0%}"))
    print()
    print(
        f"collect_month: {pairs[0][0].records:,} records of {MONTH} ({UNITS} units), db {kind}, "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} before, {load[1]:.2f} after"
    )
    _table(header, rows)
    verdict = "meets" if best / best_floor >= AIM else "BELOW"
    print()
    print(f"floor      (best): {best_floor:>9,.0f} records/s")
    print(f"collection (best): {best:>9,.0f} records/s")
    print(f"ratio (best/best): {best / best_floor:>9.0%}  ({verdict} the {AIM:.0%} aim)")
    if processing is not None:
        print(f"processing only  : {processing.rate:>9,.0f} records/s (pages from memory)")
    print(f"database         : {kind}")
    print(f"peak RSS         : {peak_rss:>9,.0f} MiB (this process, floor and collections)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="collect_month", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records a month (÷100)")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server holding the scratch DB")
    parser.add_argument("--repeat", type=int, default=1, help="floor + collection pairs")
    parser.add_argument("--port", type=int, default=0, help="simulator port (0: a free one)")
    parser.add_argument(
        "--no-processing", action="store_true", help="skip the collection from memory"
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile the collections into FILE")
    args = parser.parse_args(argv)
    if args.records < UNITS or args.records % UNITS:
        parser.error(f"--records must be a positive multiple of {UNITS}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    indicators = args.records // UNITS

    units, inds = synthetic_catalog(UNITS, indicators, SEED)
    catalog = bench_catalog(units, inds)
    pairs: list[tuple[Measure, Measure]] = []
    processing: Measure | None = None
    profiler = cProfile.Profile() if args.profile else None
    load_before = os.getloadavg()[0]
    pg_admin = (
        create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        if args.db == "postgresql"
        else None
    )

    def one_collection(
        url: str, sim_pid: int, tmp: str, run: int, transport: httpx.AsyncBaseTransport | None
    ) -> tuple[CollectOutcome, Measure]:
        with scratch_database(args.db, args.pg_url, Path(tmp), run) as db_url:
            started = time.perf_counter()
            engine = prepare(db_url, catalog)
            print(f"run {run}: database migrated, catalog loaded in "
                  f"{time.perf_counter() - started:.1f}s (untimed)")  # fmt: skip
            meter = CpuMeter(sim_pid, pg_admin, make_url(db_url).database)
            try:
                if profiler is not None:
                    profiler.enable()
                result = asyncio.run(collect(url, engine, meter, transport))
                if profiler is not None:
                    profiler.disable()
            finally:
                engine.dispose()
        outcome = result[0]
        if outcome.unavailable or outcome.stored + outcome.quarantined != outcome.records:
            raise SystemExit(f"collection incomplete: {outcome.as_dict()}")
        return result

    try:
        with (
            simulator_process(indicators, args.port) as (url, sim_pid),
            tempfile.TemporaryDirectory(prefix="assess-bench-") as tmp,
        ):
            started = time.perf_counter()
            pages, warm = asyncio.run(fetch_only(url))
            print(
                f"warm-up: simulator generated {MONTH}: {warm.records:,} records in {pages} pages, "
                f"{time.perf_counter() - started:.1f}s (untimed)"
            )
            for run in range(1, args.repeat + 1):
                _, floor = asyncio.run(fetch_only(url, CpuMeter(sim_pid, None, None)))
                outcome, coll = one_collection(url, sim_pid, tmp, run, None)
                if outcome.records != floor.records:
                    raise SystemExit(f"collected {outcome.records}, floor read {floor.records}")
                pairs.append((floor, coll))
            peak_rss = _peak_rss_mib()
            if not args.no_processing:
                bodies = asyncio.run(record_pages(url))
                _, processing = one_collection(url, sim_pid, tmp, 0, replay(bodies))
                del bodies
    finally:
        if pg_admin is not None:
            pg_admin.dispose()
    report(pairs, args.db, (load_before, os.getloadavg()[0]), peak_rss, processing)
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"\nprofile (main thread only) written to {args.profile}; top 25, cumulative:")
        stats: Any = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
