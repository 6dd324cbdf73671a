"""Fixtures for the platform client and simulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deployments.platform_sim import running_simulator
from deployments.platform_sim_data import SimDataset, generate_year, synthetic_catalog
from tests.fixtures.demo import reset_simulator
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
    """The shared synthetic simulator (it stands in for the demo's here) with faults
    cleared and stats zeroed before and after a test."""
    reset_simulator(sim_url, stats=True)
    yield sim_url
    reset_simulator(sim_url, stats=True)
