"""Fixtures for the platform client and simulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from deployments.platform_sim import running_simulator
from deployments.platform_sim_data import SimDataset, generate_year, synthetic_catalog
from tests.platform.support import TOKEN, YEAR


@pytest.fixture(scope="session")
def dataset() -> SimDataset:
    """60 units × 10 indicators: about 600 records a month, many pages at limit 50."""
    units, indicators = synthetic_catalog(60, 10, seed=3)
    return generate_year(units, indicators, YEAR, seed=11)


@pytest.fixture(scope="session")
def sim_url(dataset: SimDataset) -> Iterator[str]:
    with running_simulator(dataset, token=TOKEN) as url:
        yield url


@pytest.fixture
def sim(sim_url: str) -> Iterator[str]:
    """The shared simulator with faults cleared and stats zeroed before and after a test."""

    def reset() -> None:
        with httpx.Client(base_url=sim_url, timeout=5) as http:
            http.post("/_sim/faults", json={"clear": True}).raise_for_status()
            http.delete("/_sim/stats").raise_for_status()

    reset()
    yield sim_url
    reset()
