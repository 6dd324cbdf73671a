from decimal import Decimal

import pytest

from models.rules import LedgerChangeKind, plan_entries, plan_entry

D = Decimal


@pytest.mark.parametrize(
    ("current", "new", "kind", "delta"),
    [
        ("0", "5.00", LedgerChangeKind.NEW, D("5.00")),  # 5 − 0
        ("5.00", "3.50", LedgerChangeKind.ADJUSTED, D("-1.50")),  # 3.5 − 5
        ("3.50", "6.67", LedgerChangeKind.ADJUSTED, D("3.17")),  # 6.67 − 3.5
        ("5.00", "0", LedgerChangeKind.RELEASED, D("-5.00")),  # 0 − 5
        ("5.00", "5.00", None, None),
        ("5.0", "5.00", None, None),  # same amount, different exponent
        ("0", "0.00", None, None),
    ],
)
def test_a_cycle_books_only_the_change_against_the_current_sum(
    current: str, new: str, kind: LedgerChangeKind | None, delta: Decimal | None
) -> None:
    change = plan_entry(D(current), D(new))
    if kind is None:
        assert change is None
        return
    assert change is not None
    assert (change.kind, change.amount) == (kind, delta)
    assert change.previous_sum + change.amount == change.new_sum == D(new)


def test_a_negative_deduction_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        plan_entry(D(0), D("-1"))


def test_plan_entries_skips_unavailable_values_and_treats_unknown_keys_as_zero() -> None:
    current = {("u1", "i1"): D("5.00"), ("u1", "i2"): D("2.00"), ("u2", "i1"): D("1.00")}
    computed: dict[tuple[str, str], Decimal | None] = {
        ("u1", "i1"): D("5.00"),  # unchanged → nothing
        ("u1", "i2"): None,  # unavailable → leave the 2.00 as is
        ("u2", "i1"): D("0"),  # released
        ("u3", "i1"): D("4.00"),  # never booked → new
    }
    planned = plan_entries(current, computed)
    assert list(planned) == [("u2", "i1"), ("u3", "i1")]
    assert planned[("u2", "i1")].kind is LedgerChangeKind.RELEASED
    assert planned[("u2", "i1")].amount == D("-1.00")
    assert planned[("u3", "i1")].kind is LedgerChangeKind.NEW
    assert planned[("u3", "i1")].amount == D("4.00")
