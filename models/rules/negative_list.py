"""The negative list (负面清单) and low discrimination (区分度不大).

Negative list: a unit with any red indicator (red or missing) for two consecutive
months is on the list from the second such month until a month with none. A month
the platform could not serve (no assessed cell: ``None`` in the history) neither
puts a unit on the list nor takes it off: it is passed over.
Low discrimination: completions across units whose coefficient of variation is
under the year's ``low_discrimination_cv`` (default 0.05).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from .periods import Period, as_month
from .yearrules import DEFAULT_RULES, YearRules, to_decimal

__all__ = [
    "NegativeListMonth",
    "coefficient_of_variation",
    "low_discrimination",
    "low_discrimination_for_year",
    "negative_list_by_unit",
    "negative_list_history",
]

U = TypeVar("U", bound=Hashable)
_ZERO = Decimal(0)


@dataclass(frozen=True)
class NegativeListMonth:
    """A unit's negative-list state in one month.

    `streak` counts consecutive red months ending with this one; `newly_on` /
    `newly_off` compare with the previous month given.
    """

    month_key: str
    has_red: bool
    streak: int
    on_list: bool
    newly_on: bool
    newly_off: bool


def negative_list_history(
    red_by_month: Mapping[str, bool | None], rules: YearRules = DEFAULT_RULES
) -> list[NegativeListMonth]:
    """Negative-list membership for each month given, in month order.

    `red_by_month` maps month keys ("2026-03") to whether the unit had any red
    indicator that month, or None when no cell of the unit could be assessed
    (unavailable): such a month keeps the streak and the membership as they were,
    and counts as contiguous. Months may span a year boundary. A month absent
    from the mapping between two given months breaks the streak (no record, no red
    month); the unit is then off the list until a new run of red months.
    """
    months = sorted(as_month(key) for key in red_by_month)
    out: list[NegativeListMonth] = []
    previous: Period | None = None
    streak = 0
    was_on = False
    for month in months:
        flag = red_by_month[month.key]
        contiguous = previous is not None and previous.next() == month
        if not contiguous:
            streak = 0
        if flag is None:  # unavailable: passed over, the state stands (after a gap: off)
            stays = was_on and contiguous
            out.append(
                NegativeListMonth(month.key, False, streak, stays, False, was_on and not stays)
            )
            was_on, previous = stays, month
            continue
        has_red = bool(flag)
        streak = streak + 1 if has_red else 0
        on_list = streak >= rules.negative_list_consecutive_months
        out.append(
            NegativeListMonth(
                month_key=month.key,
                has_red=has_red,
                streak=streak,
                on_list=on_list,
                newly_on=on_list and not was_on,
                newly_off=was_on and not on_list,
            )
        )
        was_on = on_list
        previous = month
    return out


def negative_list_by_unit(
    red_by_unit: Mapping[U, Mapping[str, bool | None]], rules: YearRules = DEFAULT_RULES
) -> dict[U, list[NegativeListMonth]]:
    """`negative_list_history` for every unit."""
    return {unit: negative_list_history(flags, rules) for unit, flags in red_by_unit.items()}


def coefficient_of_variation(values: Iterable[Decimal | int | float | str]) -> Decimal | None:
    """Population standard deviation divided by the mean's magnitude; None if empty or mean 0."""
    numbers = [to_decimal(v, name="value") for v in values]
    if not numbers:
        return None
    n = Decimal(len(numbers))
    mean = sum(numbers, _ZERO) / n
    if mean == _ZERO:
        return None
    variance = sum(((x - mean) ** 2 for x in numbers), _ZERO) / n
    return variance.sqrt() / abs(mean)


def low_discrimination(
    completions_by_unit: Mapping[U, Decimal], rules: YearRules = DEFAULT_RULES
) -> bool:
    """Whether completions across units hardly differ: CV < ``rules.low_discrimination_cv``.

    Needs at least 2 values (False otherwise). When every value is equal the
    indicator does not discriminate at all (True, even when all are 0); when the
    mean is 0 but values differ the CV is undefined (False).
    """
    values = [to_decimal(v, name="completion") for v in completions_by_unit.values()]
    if len(values) < 2:
        return False
    if all(v == values[0] for v in values):
        return True
    cv = coefficient_of_variation(values)
    return cv is not None and cv < rules.low_discrimination_cv


def low_discrimination_for_year(
    completions_by_month: Mapping[str, Mapping[U, Decimal]], rules: YearRules = DEFAULT_RULES
) -> bool:
    """Low discrimination "for a whole year": all 12 months of one year are given and
    each month's completions across units has low discrimination."""
    months = [as_month(key) for key in completions_by_month]
    if not months:
        return False
    years = {m.year for m in months}
    if len(years) != 1:
        raise ValueError(
            "low_discrimination_for_year needs months of one year, got "
            + ", ".join(sorted(m.key for m in months))
        )
    if len(months) != 12:  # keys are unique, so 12 keys of one year are all its months
        return False
    return all(low_discrimination(completions_by_month[m.key], rules) for m in months)
