"""What the appeal steps tell the units: the digests queued per year with that year's
message window (``queue_by_year``), and after a recomputation the unit's appeal outcomes
and the corrected annual results of its category (``queue_appeal_digests``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from models.messages import AppealDecision, AppealWindow, UnitDigest
from models.plans.annual import result_notice_digests
from models.plans.recompute import (
    ANNUAL,
    RecomputeSnapshot,
    RulingRef,
    appeal_outcome_digest,
    decision_reason,
)
from models.rules import WorkCalendar, YearRules
from tasks.annual import load_annual_results, previous_notices
from tasks.appeals.reads import CENT, DED, ZERO, load_cells, load_unit_rulings
from tasks.delivery import queue_digests, send_window
from tasks.year_rules import load_year_rules

__all__ = [
    "queue_appeal_digests",
    "queue_by_year",
]


def queue_by_year(
    session: Session, digests: Sequence[UnitDigest], now: datetime, calendar: WorkCalendar
) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    by_year: dict[int, list[UnitDigest]] = defaultdict(list)
    for d in digests:
        by_year[int(d.period_key[:4])].append(d)
    for year, group in sorted(by_year.items()):
        try:
            rules = load_year_rules(session, year)
        except LookupError:
            rules = YearRules()
        for p in queue_digests(session, group, now=now, send_at_fn=send_window(calendar, rules)):
            counts[str(p.action)] += 1
    return dict(counts)


def queue_appeal_digests(
    session: Session, snapshot: RecomputeSnapshot, now: datetime, calendar: WorkCalendar
) -> dict[str, int]:
    """Tell the unit its appeal outcomes for the month, and every unit whose annual result
    this ruling changed (the ruled unit on any change, the others on a rank or grade
    change) its corrected result. Built from what is booked, so a rerun sends nothing."""
    ruling = snapshot.ruling
    unit = snapshot.unit
    month = ruling.month
    by_id = {i.id: i for i in snapshot.indicators}
    # 1. the unit's appeal outcomes for the month
    refs = [r for r in load_unit_rulings(session, unit.id, int(month[:4])) if r.month == month]
    latest_per_appeal: dict[int, RulingRef] = {}
    for r in sorted(refs, key=lambda r: (r.effective_at, r.id)):
        latest_per_appeal[r.appeal_id] = r
    cells = load_cells(session, unit.id, [month])
    decisions = []
    for _appeal_id, r in sorted(latest_per_appeal.items()):
        indicator = by_id.get(r.indicator_id)
        if indicator is None:
            continue
        before, after = _ledger_change(session, unit.id, r.indicator_id, r.id, int(month[:4]))
        decisions.append(
            AppealDecision(
                indicator_code=indicator.code,
                indicator_name=indicator.name,
                outcome=r.ruling.kind.value,
                reason=decision_reason(
                    r.ruling,
                    r.reason,
                    r.document_ref,
                    month,
                    cells.get((r.indicator_id, month)),
                    indicator.unit_of_measure,
                ),
                deduction_before=before,
                deduction_after=after,
            )
        )
    counts = queue_by_year(
        session,
        [appeal_outcome_digest(unit, month, decisions)] if decisions else [],
        now,
        calendar,
    )
    # 2. corrected annual results
    counts.update(_annual_notices(session, snapshot, now, calendar))
    return counts


def _ledger_change(
    session: Session, unit_id: int, indicator_id: int, ruling_id: int, year: int
) -> tuple[Decimal | None, Decimal | None]:
    """The key's deduction before and after the ruling's entries (None: it booked none)."""
    rows = session.execute(
        select(DED.id, DED.amount, DED.ruling_id)
        .where(DED.unit_id == unit_id, DED.indicator_id == indicator_id, DED.year == year)
        .order_by(DED.id)
    ).all()
    mine = [r for r in rows if r[2] == ruling_id]
    if not mine:
        return None, None
    first = mine[0][0]
    before = sum((Decimal(a) for i, a, _ in rows if i < first), ZERO).quantize(CENT)
    after = before + sum((Decimal(a) for _, a, _ in mine), ZERO)
    return before, after.quantize(CENT)


def _annual_notices(
    session: Session, snapshot: RecomputeSnapshot, now: datetime, calendar: WorkCalendar
) -> dict[str, int]:
    """Re-queue the annual result notices of the unit's category from the latest results,
    as the annual assessment builds them (``models.plans.annual.result_notice_digests``):
    a unit whose result changed (the ruled unit, any unit whose rank or grade moved) gets
    a corrected notice with a fresh appeal window from its sending; the others' notices
    are rebuilt unchanged, so nothing is sent to them. Reads the category only."""
    year = snapshot.year
    if not any(rs.cycle == ANNUAL for rs in snapshot.results):
        return {}
    results = load_annual_results(session, year, snapshot.unit.category)
    if not results:
        return {}
    rules = load_year_rules(session, year)
    send_at = send_window(calendar, rules)
    ends = AppealWindow.from_delivery(rules.appeal_working_days)  # filled in at delivery
    previous = previous_notices(session, year, calendar, rules, snapshot.unit.category)
    digests = result_notice_digests(results, year, ends, previous)
    counts: dict[str, int] = defaultdict(int)
    for p in queue_digests(session, digests, now=now, send_at_fn=send_at):
        counts[f"annual_{p.action}"] += 1
    return dict(counts)
