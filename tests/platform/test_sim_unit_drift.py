"""The simulator's unit list can differ from its catalog (issue 14, item 8): what the demo
and the tests use to show the catalog meeting the platform."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deployments.demo.build_catalog import demo_catalog
from deployments.demo.sim_feed import demo_dataset, demo_unit_drift
from deployments.platform_sim_data import SimDataset
from tests.platform.support import FakeTime, run, with_client


@pytest.fixture
def drifted(sim: str) -> Iterator[str]:
    """The shared simulator with a drifted unit list, cleared afterwards."""
    drift = {
        "extra": [{"unit_code": "U000", "name": "平台独有"}, {"name": "无编码"}, "hostile"],
        "missing": ["U001", "U002"],
        "onboarded": {"U003": "2026-02-01T09:00:00+08:00"},
    }
    with httpx.Client(base_url=sim, timeout=5) as http:
        http.post("/_sim/units", json=drift).raise_for_status()
    try:
        yield sim
    finally:
        with httpx.Client(base_url=sim, timeout=5) as http:
            http.post("/_sim/units", json={"clear": True}).raise_for_status()


@pytest.mark.http
def test_a_drifted_unit_list_pages_like_any_other(drifted: str, dataset: SimDataset) -> None:
    async def body(client: Any, fake: FakeTime) -> list[Any]:
        return list(await client.fetch_units())

    units = run(with_client(drifted, body, page_limit=2))
    codes = [u.get("unit_code") if isinstance(u, dict) else None for u in units]
    expected = sorted({u.code for u in dataset.units} - {"U001", "U002"} | {"U000"})
    assert codes == [*expected, None, None], "extra items without a code come last"
    u003 = next(u for u in units if isinstance(u, dict) and u.get("unit_code") == "U003")
    assert u003["onboarded_at"] == "2026-02-01T09:00:00+08:00"


@pytest.mark.http
def test_a_malformed_drift_is_refused(sim: str) -> None:
    with httpx.Client(base_url=sim, timeout=5) as http:
        answer = http.post("/_sim/units", json={"missing": "U001"})
        assert answer.status_code == 400
        assert http.get("/_sim/units").json() == {"extra": [], "missing": [], "onboarded": {}}


def test_the_demo_list_differs_from_the_catalog_only_when_asked() -> None:
    catalog = demo_catalog()
    plain = demo_dataset(catalog, 2026).unit_view(None).items
    on = sorted(u.code for u in catalog.units if u.on_platform)
    assert [u["unit_code"] for u in plain] == on
    drifted = demo_dataset(catalog, 2026, unit_drift=True).unit_view(None).items
    codes = [u["unit_code"] for u in drifted]
    drift = demo_unit_drift(catalog)
    (gone,) = drift.missing
    (listed_off,) = {c for c in drift.onboarded if c not in on}
    assert "X01" in codes and gone not in codes and listed_off in codes
    assert codes == sorted(codes)
