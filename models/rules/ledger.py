"""Planning deduction-ledger entries against the current sum (rulebook section 5).

The deduction ledger is append-only: a (unit, indicator, year)'s current deduction
is the sum of its signed entries, and a cycle books only the change against that
sum. Planning against a sum that already equals the computed amount books nothing,
which is what makes re-running a cycle harmless.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from .yearrules import Number, to_decimal

__all__ = ["LedgerChange", "LedgerChangeKind", "plan_entries", "plan_entry"]

K = TypeVar("K", bound=Hashable)
_ZERO = Decimal(0)


class LedgerChangeKind(StrEnum):
    NEW = "new"  # nothing booked yet (sum 0) and now a positive amount
    ADJUSTED = "adjusted"  # a nonzero sum changes to another nonzero amount
    RELEASED = "released"  # a nonzero sum goes back to 0


@dataclass(frozen=True)
class LedgerChange:
    """One entry to append: `amount` is the signed delta, `new_sum - previous_sum`."""

    kind: LedgerChangeKind
    amount: Decimal
    previous_sum: Decimal
    new_sum: Decimal


def plan_entry(current_sum: Number, new_amount: Number) -> LedgerChange | None:
    """The entry that takes the ledger from `current_sum` to `new_amount`, or None if equal.

    `new_amount` is a deduction and must not be negative.
    """
    current = to_decimal(current_sum, name="current_sum")
    target = to_decimal(new_amount, name="new_amount")
    if target < _ZERO:
        raise ValueError(f"a deduction must not be negative, got new_amount {target}")
    if target == current:
        return None
    if current == _ZERO:
        kind = LedgerChangeKind.NEW
    elif target == _ZERO:
        kind = LedgerChangeKind.RELEASED
    else:
        kind = LedgerChangeKind.ADJUSTED
    return LedgerChange(kind=kind, amount=target - current, previous_sum=current, new_sum=target)


def plan_entries(
    current: Mapping[K, Decimal], computed: Mapping[K, Decimal | None]
) -> dict[K, LedgerChange]:
    """Plan entries for many keys (e.g. (unit, indicator, year)) at once.

    For each key of `computed`: None means "leave as is" (the value was unavailable)
    and plans nothing; otherwise the change against `current` (absent keys count as 0).
    Keys only in `current` are left as they are; to release one, compute it as 0.
    Only keys with a change appear in the result, in `computed`'s order.
    """
    planned: dict[K, LedgerChange] = {}
    for key, amount in computed.items():
        if amount is None:
            continue
        change = plan_entry(current.get(key, _ZERO), amount)
        if change is not None:
            planned[key] = change
    return planned
