"""What stood at the end of a month: the ledgers and the negative list "as of month m".

Every ledger entry carries its valid month (``period``: the month the figure is
about) apart from when it was booked. A period's result is computed from what
stood at the end of its last month, whatever was booked later about later months:
run on time or in a December catch-up, the same period gives the same figures.

- ``ledger_sums_as_of``: a (unit, indicator)'s deduction as of month m is the sum of
  its entries whose valid month is m or earlier (the loaders push the same cut-off
  into SQL: ``period <= m``).
- ``deductions_as_of``: a (unit, indicator)'s deduction at the end of month m for a
  period's scores: the pre-deduction of its latest assessed month ≤ m (its stored
  cell, which a ruling corrects in place). In an in-order run it is the ledger's sum
  as of m (each month books the change to it; an unavailable month keeps it); unlike
  that sum it also holds a ruling on a month that no longer decides the ledger, and
  leaves the annual settlement (the annual's own) out. The recomputation after a
  ruling scores the half-years the same way.
- ``negative_list_as_of``: a unit is on the list as of m when its latest event of a
  valid month m or earlier is ``on``; events of the same month in booking order.
  Never "latest event per unit" over every month: a rerun of an earlier month books
  events of that month, which must not outrank a later month's.
- ``negative_corrections``: the events that make the list as of each month from m on
  equal to what the months' red flags say (a rerun or late month re-derives the
  months after it consistently with an in-order run).

Nothing here reads a database or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from models.rules import Period, YearRules, negative_list_history

__all__ = [
    "CellRow",
    "LedgerRow",
    "NegativeEventRow",
    "deductions_as_of",
    "ledger_sums_as_of",
    "month_of_period",
    "negative_corrections",
    "negative_list_as_of",
]

ZERO = Decimal(0)


@dataclass(frozen=True)
class LedgerRow:
    """One deduction-ledger entry: its key, valid month and signed amount."""

    unit_id: int
    indicator_id: int
    period: str
    amount: Decimal


@dataclass(frozen=True)
class CellRow:
    """A stored monthly cell: its key, month, whether it was assessed, its pre-deduction."""

    unit_id: int
    indicator_id: int
    period: str
    assessed: bool
    pre_deduction: Decimal


@dataclass(frozen=True)
class NegativeEventRow:
    """One negative-list event: its id (booking order), valid month, unit and event."""

    id: int
    period: str
    unit_id: int
    event: str  # "on" | "off"


def month_of_period(period: Period) -> str:
    """The last month of a period (a month, quarter, half-year or year), as ``YYYY-MM``."""
    return period.months()[-1].key


def ledger_sums_as_of(rows: Iterable[LedgerRow], month: str) -> dict[tuple[int, int], Decimal]:
    """Each (unit, indicator)'s ledger sum over entries of valid month ``month`` or earlier."""
    sums: dict[tuple[int, int], Decimal] = {}
    for r in rows:
        if r.period <= month:
            key = (r.unit_id, r.indicator_id)
            sums[key] = sums.get(key, ZERO) + r.amount
    return sums


def deductions_as_of(cells: Iterable[CellRow], month: str) -> dict[tuple[int, int], Decimal]:
    """Each (unit, indicator)'s pre-deduction of its latest assessed month ≤ ``month``."""
    latest: dict[tuple[int, int], CellRow] = {}
    for c in cells:
        if not c.assessed or c.period > month:
            continue
        key = (c.unit_id, c.indicator_id)
        held = latest.get(key)
        if held is None or c.period > held.period:
            latest[key] = c
    return {key: c.pre_deduction for key, c in latest.items()}


def _latest_by_unit(events: Iterable[NegativeEventRow], month: str) -> dict[int, str]:
    latest: dict[int, tuple[str, int, str]] = {}
    for e in events:
        if e.period > month:
            continue
        current = latest.get(e.unit_id)
        if current is None or (e.period, e.id) > current[:2]:
            latest[e.unit_id] = (e.period, e.id, e.event)
    return {unit: event for unit, (_, _, event) in latest.items()}


def negative_list_as_of(events: Iterable[NegativeEventRow], month: str) -> frozenset[int]:
    """The units on the negative list at the end of ``month`` (by valid month, not booking
    order: the latest event of a month ≤ ``month``, ties in booking order)."""
    return frozenset(u for u, event in _latest_by_unit(events, month).items() if event == "on")


def negative_corrections(
    own_events: Sequence[NegativeEventRow],
    unit_id: int,
    flags: Mapping[str, bool | None],
    months: Sequence[str],
    rules: YearRules,
) -> list[tuple[str, str]]:
    """The (month, event) pairs that make the unit's list equal what its red flags say.

    ``own_events``: the unit's booked events; ``flags``: the unit's red flag of every
    month known (None: unavailable, passed over); ``months``: the months to settle, in
    order (the month analysed and the analysed months after it). A month absent from
    ``flags`` (not analysed) is left as it stands. A planned event counts for the months
    after it, as it will once booked.
    """
    wanted = {h.month_key: h.on_list for h in negative_list_history(flags, rules)}
    own = list(own_events)
    planned: list[tuple[str, str]] = []
    next_id = max((e.id for e in own), default=0) + 1
    for month in months:
        if month not in flags:
            continue
        standing = _latest_by_unit(own, month).get(unit_id) == "on"
        if standing != wanted[month]:
            event = "on" if wanted[month] else "off"
            planned.append((month, event))
            own.append(NegativeEventRow(next_id, month, unit_id, event))
            next_id += 1
    return planned
