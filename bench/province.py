"""A synthetic province, reproducible from a seed: units across the eight categories,
tens of indicators each, and a year of platform records served by the simulator.

The simulator's ``synthetic_catalog(n_units, n_indicators, seed)`` decides the codes
and the records; ``province_catalog`` gives our database the same units (spread over
the eight categories) and indicators (each applying to every category, equal weights
summing to 100), so every record validates.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx

from deployments.platform_sim_data import SimIndicator, SimUnit, synthetic_catalog
from models.catalog.schema import Catalog, IndicatorRow, ItemRow, Milestone, UnitRow, YearRow
from models.catalog.vocabulary import CATEGORY_LABELS, KIND_OF_CATEGORY
from models.rules import YearRules

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2026
ITEM = "P01"
CATEGORIES = tuple(CATEGORY_LABELS)


def province(
    records: int, indicators_per_unit: int = 50, seed: int = 1
) -> tuple[list[SimUnit], list[SimIndicator], Catalog]:
    """``records`` unit-indicator cells a month: records / indicators_per_unit units."""
    n_units = max(1, records // indicators_per_unit)
    units, indicators = synthetic_catalog(n_units, indicators_per_unit, seed)
    return units, indicators, province_catalog(units, indicators)


def province_catalog(units: list[SimUnit], indicators: list[SimIndicator]) -> Catalog:
    weight = (Decimal(100) / len(indicators)).quantize(Decimal("0.01"))
    return Catalog(
        years=(YearRow(YEAR, f"{YEAR}年度（全省模拟）", rules=YearRules().to_dict()),),
        units=tuple(
            UnitRow(
                code=u.code,
                name=u.name,
                kind=KIND_OF_CATEGORY[CATEGORIES[k % len(CATEGORIES)]],
                category=CATEGORIES[k % len(CATEGORIES)],
                on_platform=u.on_platform,
                onboarded_on=u.onboarded_at.date() if u.onboarded_at else None,
                channels=(),
            )
            for k, u in enumerate(units)
        ),
        items=(
            ItemRow(
                year=YEAR,
                code=ITEM,
                name="全省模拟事项",
                status="approved",
                decided_by="省考核办",
                decided_on=date(YEAR - 1, 12, 20),
                document_ref="模拟〔2025〕1号",
            ),
        ),
        indicators=tuple(
            IndicatorRow(
                year=YEAR,
                code=ind.code,
                item=ITEM,
                name=f"模拟指标{ind.code}",
                weight=weight,
                direction=ind.direction,
                categories=CATEGORIES,
                target=Decimal(str(ind.target)),
                baseline=Decimal(str(ind.baseline)) if ind.baseline is not None else None,
                plan=tuple(Decimal(str(v)) for v in ind.plan) if ind.plan else None,
                milestones=tuple(
                    Milestone(f"节点{k}", month)
                    for k, month in enumerate(ind.milestone_due_months, start=1)
                ),
                source_field=ind.code.lower(),
            )
            for ind in indicators
        ),
    )


def use_environment(db_url: str, sim_url: str, token: str, workdir: Path) -> None:
    """The settings a benchmark's flows read: our database, the simulator, a Prefect home
    of its own (an ephemeral server, offline), warnings only."""
    os.environ.update(
        ASSESS_DATABASE_URL=db_url,
        ASSESS_PLATFORM_URL=sim_url,
        ASSESS_PLATFORM_TOKEN=token,
        PREFECT_HOME=str(workdir / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        PREFECT_LOGGING_LEVEL="WARNING",
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def simulator_process(
    n_units: int, n_indicators: int, seed: int, token: str, port: int = 0
) -> Iterator[tuple[str, int]]:
    """The simulator serving the province in its own process group: (URL, pid); stopped
    by its pid (SIGTERM, then SIGKILL)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "deployments.platform_sim_cli", "--units", str(n_units),
            "--indicators", str(n_indicators), "--seed", str(seed), "--year", str(YEAR),
            "--port", str(port), "--token", token]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the simulator exited with {proc.returncode}")
            try:
                httpx.get(f"{url}/_sim/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulator did not answer within 120 s") from None
                time.sleep(0.1)
        yield url, proc.pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own group: pgid == pid
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextlib.contextmanager
def simulator(n_units: int, n_indicators: int, seed: int, token: str) -> Iterator[str]:
    """The simulator serving the province (see ``simulator_process``): its URL."""
    with simulator_process(n_units, n_indicators, seed, token) as (url, _pid):
        yield url
