"""The monthly analysis with the month's standing rulings applied: what a monthly run
(or a fresh recomputation of the year) does so that a forced rerun keeps the rulings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from models.plans.monthly import (
    DeductionBooking,
    MonthlyPlan,
    MonthSnapshot,
    plan_monthly_analysis,
)
from models.plans.recompute.state import ZERO
from models.rules import Level, Ruling, RulingKind, plan_entry, ruled_amount


def plan_monthly_analysis_with_rulings(
    snapshot: MonthSnapshot, rulings: Mapping[tuple[int, int], Ruling]
) -> MonthlyPlan:
    """``plan_monthly_analysis`` with the month's standing rulings, by (unit, indicator).

    corrected: the right value replaces the observation (level, warning, negative list
    and deduction follow from it); waived / reduced: the cell's pre-deduction is the
    ruled amount and the ledger is booked to it (the level stands); rejected: nothing.
    """
    observations = dict(snapshot.observations)
    amounts: dict[tuple[int, int], Ruling] = {}
    for key, ruling in rulings.items():
        if ruling.kind is RulingKind.CORRECTED:
            assert ruling.corrected_value is not None
            observations[key] = ruling.corrected_value
        elif ruling.kind in (RulingKind.WAIVED, RulingKind.REDUCED):
            amounts[key] = ruling
    plan = plan_monthly_analysis(dataclasses.replace(snapshot, observations=observations))
    if not amounts:
        return plan
    results = []
    bookings = {(d.unit_id, d.indicator_id): d for d in plan.deductions}
    for r in plan.results:
        key = (r.unit_id, r.indicator_id)
        standing = amounts.get(key)
        a = r.assessment
        if standing is None or a.level is Level.UNAVAILABLE:
            results.append(r)
            continue
        a = dataclasses.replace(a, pre_deduction=ruled_amount(standing, a.pre_deduction))
        results.append(dataclasses.replace(r, assessment=a))
        bookings.pop(key, None)
        before = snapshot.ledger_sums.get(key, ZERO)
        if plan.books_ledger and (change := plan_entry(before, a.pre_deduction)) is not None:
            bookings[key] = DeductionBooking(
                r.unit_id, r.indicator_id, change, a.level, a.completion
            )
    return dataclasses.replace(plan, results=tuple(results), deductions=tuple(bookings.values()))
