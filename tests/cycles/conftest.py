"""Fixtures for collection and cycle tests: the demo catalog, its simulator, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import Engine

from deployments.demo.build_catalog import demo_catalog
from deployments.demo.sim_feed import demo_dataset
from deployments.platform_sim import running_simulator
from deployments.platform_sim_data import SimDataset
from models.persistence.database import session_scope
from tasks.catalog import save_catalog
from tasks.platform import PlatformClient, RetryPolicy

TOKEN = "cycle-test-token"


@pytest.fixture(scope="session")
def demo_year() -> SimDataset:
    return demo_dataset(demo_catalog(), 2026, seed=7)


@pytest.fixture(scope="session")
def sim_url(demo_year: SimDataset) -> Iterator[str]:
    with running_simulator(demo_year, token=TOKEN) as url:
        yield url


@pytest.fixture
def sim(sim_url: str) -> Iterator[str]:
    """The demo simulator with faults (and unit-list drift) cleared before and after the test."""

    def reset() -> None:
        with httpx.Client(base_url=sim_url, timeout=5) as http:
            http.post("/_sim/faults", json={"clear": True}).raise_for_status()
            http.post("/_sim/units", json={"clear": True}).raise_for_status()

    reset()
    yield sim_url
    reset()


def set_faults(url: str, **faults: object) -> None:
    with httpx.Client(base_url=url, timeout=5) as http:
        http.post("/_sim/faults", json=faults).raise_for_status()


def set_unit_drift(url: str, drift: dict[str, object]) -> None:
    """How the simulator's unit list differs from the catalog (``UnitDrift`` as JSON)."""
    with httpx.Client(base_url=url, timeout=5) as http:
        http.post("/_sim/units", json=drift).raise_for_status()


@asynccontextmanager
async def platform(url: str, token: str = TOKEN, limit: int = 50) -> AsyncIterator[PlatformClient]:
    """A client with a short retry budget and no real waiting between retries."""

    async def no_wait(_seconds: float) -> None:
        return None

    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield PlatformClient(
            http,
            token=token,
            page_limit=limit,
            retry=RetryPolicy(max_attempts=4, base_delay=0.0, total_budget=30),
            sleep=no_wait,
        )


@pytest.fixture
def catalog_db(engine: Engine) -> Engine:
    """A fresh database holding the demo catalog."""
    with session_scope(engine) as session:
        save_catalog(session, demo_catalog())
    return engine


@pytest.fixture
def settings_env(
    catalog_db: Engine, db_url: str, sim: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    """The demo catalog's database, the settings pointing at it and at the simulator."""
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    monkeypatch.setenv("ASSESS_PLATFORM_URL", sim)
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
    yield catalog_db
