"""Helpers shared by the platform client and simulator tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

import httpx

from deployments.platform_sim_data import (
    CST,
    SimIndicator,
    SimUnit,
)
from tasks.platform import PlatformClient, RetryPolicy

T = TypeVar("T")
TOKEN = "t0ken-Sekr1t-4711"
YEAR = 2026


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FakeTime:
    """An injectable sleep and clock: sleeping only advances the clock and is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def make_client(
    http: httpx.AsyncClient,
    fake: FakeTime,
    *,
    token: str = TOKEN,
    seed: int = 42,
    **kw: Any,
) -> PlatformClient:
    return PlatformClient(
        http,
        token=token,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(seed),
        **kw,
    )


async def with_client(
    url: str,
    body: Callable[[PlatformClient, FakeTime], Awaitable[T]],
    **kw: Any,
) -> T:
    """Run ``body`` with a client on a fresh AsyncClient against ``url`` and fake time."""
    fake = FakeTime()
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        return await body(make_client(http, fake, **kw), fake)


def small_catalog() -> tuple[list[SimUnit], list[SimIndicator]]:
    """A hand-made catalog with every direction, a plan, an off-platform and a late unit."""
    units = [SimUnit(f"C{i:02d}", f"县区{i}") for i in range(1, 13)]
    units.append(SimUnit("D01", "市发展改革委"))
    units.append(SimUnit("D02", "市生态环境局", on_platform=False))
    units.append(SimUnit("D03", "市数据局", onboarded_at=datetime(2026, 6, 15, tzinfo=CST)))
    codes = tuple(u.code for u in units)
    counties = tuple(c for c in codes if c.startswith("C"))
    plan = tuple(float(x) for x in (5, 12, 20, 30, 40, 52, 60, 70, 78, 86, 94, 100))
    indicators = [
        SimIndicator("GDP", "increase", 120.0, unit_codes=counties),
        SimIndicator("INV", "increase", 100.0, plan=plan, unit_codes=codes),
        SimIndicator("DEBT", "decrease", 60.0, baseline=72.0, unit_codes=counties),
        SimIndicator(
            "PROJ", "milestone", 4.0, milestone_due_months=(3, 6, 9, 12), unit_codes=codes
        ),
        SimIndicator("PARTY", "increase", 100.0, unit_codes=codes),
    ]
    return units, indicators


def sim_stats(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=5) as http:
        stats: dict[str, Any] = http.get("/_sim/stats").json()
        return stats


def set_faults(url: str, **faults: Any) -> None:
    with httpx.Client(base_url=url, timeout=5) as http:
        http.post("/_sim/faults", json=faults).raise_for_status()


FAST_RETRY = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, total_budget=60)
