"""Feeding the platform simulator from a catalog (the demo's, or any imported one)."""

from __future__ import annotations

from datetime import datetime, time

from deployments.platform_sim_data import SimDataset, SimIndicator, SimUnit, generate_year
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


def demo_dataset(catalog: Catalog, year: int, seed: int = 2026) -> SimDataset:
    units, indicators = sim_inputs(catalog, year)
    return generate_year(units, indicators, year, seed)
