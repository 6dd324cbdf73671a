"""The catalog meets the platform (issue 14, item 8): reading ``/api/v1/units`` once per
monthly analysis (and for ``assess catalog propose``), the catalog's units as of the
month, and queueing the office's one message about what differs.

A platform failure here never fails the month: the unit list comes back unreadable
(``PlatformUnits.failure``) and the month goes on as before. The comparison, the report
and the message are decided by the pure core (``models.plans.platform_registry``); the
catalog is never changed here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlmodel import Session

from models.messages import message_key
from models.persistence.database import session_scope
from models.plans.platform_registry import (
    KIND_PLATFORM_REGISTRY,
    PlatformUnits,
    RegistryAlert,
    RegistryReport,
    check_platform_units,
    compare_registry,
    registry_alert,
)
from tasks.catalog import load_catalog
from tasks.delivery.queueing import add_pending_message
from tasks.platform import PlatformClient, PlatformError, RetryPolicy
from tasks.runtime import Runtime

logger = logging.getLogger(__name__)

UNITS_RETRY = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=5.0, total_budget=30.0)
"""The unit list is a side read of the month: a short retry budget."""


async def fetch_platform_units(client: PlatformClient, now: datetime) -> PlatformUnits:
    """The platform's units, checked at ``now``; unreadable (with the reason) when the
    platform cannot be read."""
    try:
        items = await client.fetch_units()
    except (PlatformError, httpx.HTTPError) as exc:
        logger.warning("the platform's unit list could not be read: %s", exc)
        return PlatformUnits(failure=str(exc)[:500] or type(exc).__name__)
    return check_platform_units(items, now)


async def read_platform_units(
    runtime: Runtime, now: datetime, retry: RetryPolicy = UNITS_RETRY
) -> PlatformUnits:
    """The platform's units, read with the settings' URL and token."""
    settings = runtime.settings
    async with httpx.AsyncClient(base_url=settings.platform_url, timeout=30) as http:
        client = PlatformClient(http, token=settings.platform_token.get_secret_value(), retry=retry)
        return await fetch_platform_units(client, now)


@task(name="fetch-platform-units", cache_policy=NO_CACHE)
def fetch_platform_units_task(runtime: Runtime, now: datetime) -> PlatformUnits:
    """Read the platform's unit list once (never raises for a platform failure)."""
    return asyncio.run(read_platform_units(runtime, now))


def queue_registry_alert(
    session: Session, alert: RegistryAlert, period: str, now: datetime, run_id: int | None
) -> bool:
    """Queue the office's message unless the same discrepancies were told this year
    already (the key holds the year and the content hash, not the month)."""
    key = message_key("office", KIND_PLATFORM_REGISTRY, period[:4], alert.content_hash)
    added = add_pending_message(
        session, key=key, audience="office", kind=KIND_PLATFORM_REGISTRY, period=period,
        body=alert, now=now, run_id=run_id,
    )  # fmt: skip
    return added is not None


@task(name="check-platform-registry", cache_policy=NO_CACHE)
def check_platform_registry_task(
    runtime: Runtime, period: str, platform: PlatformUnits, run_id: int | None, now: datetime
) -> RegistryReport:
    """Compare the catalog's units as of the month ``period`` (its revisions applied)
    with the platform's list, and queue the office's message when they disagree (once
    per content and year); return the report for the run's artifacts."""
    with session_scope(runtime.engine) as session:
        report = compare_registry(load_catalog(session, period).units, platform)
        if (alert := registry_alert(report, period)) is not None:
            queue_registry_alert(session, alert, period, now, run_id)
    return report
