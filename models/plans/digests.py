"""What each unit is told after a cycle: its digest, built from a plan (pure).

The digest's content depends only on the month's results, never on when or how
often the cycle ran, so a rerun produces the same content and nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from models.messages import (
    AppealWindow,
    DeductionChange,
    DigestItem,
    LevelItem,
    MissingUpload,
    Rectification,
    UnitDigest,
)
from models.plans.monthly import IndicatorSnap, MonthlyPlan, UnitSnap, applies
from models.rules import Level

ZERO = Decimal(0)
TOLD_LEVELS = frozenset({Level.YELLOW, Level.ORANGE, Level.RED, Level.MISSING})


def monthly_digests(
    plan: MonthlyPlan,
    units: Sequence[UnitSnap],
    indicators: Sequence[IndicatorSnap],
    previous_pre_deductions: Mapping[tuple[int, int], Decimal],
    appeal_window: AppealWindow,
    rectifications: Mapping[int, Sequence[Rectification]] | None = None,
) -> list[UnitDigest]:
    """One digest per unit with something to act on after the month's analysis.

    Items: indicators at yellow/orange/red/missing with expected and actual values;
    pre-deductions that differ from last month's (new, changed or released); open
    rectifications. A unit with none of these gets an empty digest (no message).
    ``appeal_window``: for the results listed; counted from the day the message is
    delivered (`AppealWindow.from_delivery`, rulebook section 7).
    """
    by_id = {i.id: i for i in indicators}
    items: dict[int, list[DigestItem]] = {u.id: [] for u in units}
    for r in plan.results:
        a = r.assessment
        if a.level is Level.UNAVAILABLE:
            continue
        ind = by_id[r.indicator_id]
        if a.level in TOLD_LEVELS:
            items[r.unit_id].append(
                LevelItem(
                    indicator_code=ind.code,
                    indicator_name=ind.name,
                    level=a.level.value,
                    expected=a.expected,
                    actual=a.actual,
                    completion=a.display_completion,
                    unit_of_measure=ind.unit_of_measure,
                )
            )
        before = previous_pre_deductions.get((r.unit_id, r.indicator_id), ZERO)
        if a.pre_deduction != before:
            items[r.unit_id].append(
                DeductionChange(ind.code, ind.name, before=before, after=a.pre_deduction)
            )
    digests = []
    for unit in units:
        unit_items = items[unit.id]
        has_results = bool(unit_items)
        unit_items += list((rectifications or {}).get(unit.id, ()))
        digests.append(
            UnitDigest(
                unit_code=unit.code,
                unit_name=unit.name,
                kind="monthly_analysis",
                period_key=plan.month.key,
                items=tuple(unit_items),
                appeal_window=appeal_window if has_results else None,
            )
        )
    return digests


def missing_upload_digests(
    period_key: str,
    units: Sequence[UnitSnap],
    indicators: Sequence[IndicatorSnap],
    submitted: frozenset[tuple[int, int]],
    deadline: date,
) -> list[UnitDigest]:
    """Pre-deadline reminders: only units on the platform with a value still missing."""
    digests = []
    for unit in units:
        if not unit.on_platform:
            continue
        missing = tuple(
            MissingUpload(ind.code, ind.name, deadline)
            for ind in indicators
            if applies(ind, unit) and (unit.id, ind.id) not in submitted
        )
        digests.append(
            UnitDigest(
                unit_code=unit.code,
                unit_name=unit.name,
                kind="pre_deadline_reminder",
                period_key=period_key,
                items=missing,
                deadline=deadline,
            )
        )
    return digests
