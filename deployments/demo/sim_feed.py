"""Feeding the platform simulator from a catalog (the demo's, or any imported one)."""

from __future__ import annotations

from datetime import datetime, time

from deployments.platform_sim_data import (
    SimDataset,
    SimIndicator,
    SimUnit,
    UnitDrift,
    generate_year,
)
from models.catalog.schema import Catalog
from models.catalog.vocabulary import ASSESSED_LIFECYCLES
from models.rules import SHANGHAI


def sim_inputs(catalog: Catalog, year: int) -> tuple[list[SimUnit], list[SimIndicator]]:
    """The catalog's units and the year's assessed indicators, as the simulator wants them."""
    units = [
        SimUnit(
            code=u.code,
            name=u.name,
            on_platform=u.on_platform,
            onboarded_at=datetime.combine(u.onboarded_on, time(9), tzinfo=SHANGHAI)
            if u.onboarded_on
            else None,
        )
        for u in catalog.units
    ]
    indicators = []
    for ind in catalog.indicators:
        if ind.year != year or ind.lifecycle not in ASSESSED_LIFECYCLES:
            continue
        codes = tuple(u.code for u in catalog.units if u.category in ind.categories)
        indicators.append(
            SimIndicator(
                code=ind.code,
                direction=ind.direction,  # type: ignore[arg-type]
                target=float(ind.target if ind.target is not None else len(ind.milestones)),
                baseline=float(ind.baseline) if ind.baseline is not None else None,
                plan=tuple(float(v) for v in ind.plan) if ind.plan else None,
                milestone_due_months=tuple(m.due_month for m in ind.milestones),
                unit_codes=codes,
            )
        )
    return units, indicators


def demo_unit_drift(catalog: Catalog) -> UnitDrift:
    """The demo platform's unit list as it differs from the catalog: a unit the catalog
    lacks, the last on-platform unit missing, the first one onboarded on another day, and
    the first unit the catalog has off the platform listed on it (from February 2026)."""
    on = [u.code for u in catalog.units if u.on_platform]
    off = [u.code for u in catalog.units if not u.on_platform]
    onboarded = {on[0]: "2025-04-15T09:00:00+08:00"}
    if off:
        onboarded[off[0]] = "2026-02-01T09:00:00+08:00"
    extra = {"unit_code": "X01", "name": "青岚新区管委会", "onboarded_at": "2026-01-10T09:00+08:00"}
    return UnitDrift(extra=(extra,), missing=frozenset(on[-1:]), onboarded=onboarded)


def demo_dataset(
    catalog: Catalog, year: int, seed: int = 2026, *, unit_drift: bool = False
) -> SimDataset:
    """The catalog's simulated year; with ``unit_drift`` its unit list differs from the
    catalog (``demo_unit_drift``), as the demo shows."""
    units, indicators = sim_inputs(catalog, year)
    dataset = generate_year(units, indicators, year, seed)
    if unit_drift:
        dataset.unit_drift = demo_unit_drift(catalog)
    return dataset
