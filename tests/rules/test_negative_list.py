from decimal import Decimal

import pytest

from models.rules import (
    YearRules,
    coefficient_of_variation,
    low_discrimination,
    low_discrimination_for_year,
    negative_list_by_unit,
    negative_list_history,
)

D = Decimal


def test_a_unit_joins_on_the_second_red_month_and_leaves_on_a_month_without_red() -> None:
    flags = {
        "2026-06": True,
        "2026-01": False,
        "2026-02": True,
        "2026-03": True,  # second consecutive red month → on
        "2026-04": True,  # still on
        "2026-05": False,  # no red → off
    }
    history = negative_list_history(flags)
    assert [m.month_key for m in history] == [f"2026-0{i}" for i in range(1, 7)]
    assert [m.on_list for m in history] == [False, False, True, True, False, False]
    assert [m.newly_on for m in history] == [False, False, True, False, False, False]
    assert [m.newly_off for m in history] == [False, False, False, False, True, False]
    assert [m.streak for m in history] == [0, 1, 2, 3, 0, 1]


def test_red_months_across_the_new_year_are_consecutive() -> None:
    history = negative_list_history({"2025-12": True, "2026-01": True})
    assert [m.on_list for m in history] == [False, True]


def test_a_gap_in_the_months_breaks_the_run() -> None:
    history = negative_list_history({"2026-01": True, "2026-03": True})
    assert [m.on_list for m in history] == [False, False]


def test_the_number_of_consecutive_months_comes_from_the_year_rules() -> None:
    flags = {"2026-01": True, "2026-02": True, "2026-03": True}
    history = negative_list_history(flags, YearRules(negative_list_consecutive_months=3))
    assert [m.on_list for m in history] == [False, False, True]


def test_negative_list_by_unit_keeps_units_apart() -> None:
    result = negative_list_by_unit(
        {"u1": {"2026-01": True, "2026-02": True}, "u2": {"2026-01": True, "2026-02": False}}
    )
    assert [m.on_list for m in result["u1"]] == [False, True]
    assert [m.on_list for m in result["u2"]] == [False, False]


@pytest.mark.parametrize(
    ("values", "cv"),
    [
        (["1", "1", "1"], D(0)),
        (["0.9", "1.1"], D("0.1")),  # mean 1, population std 0.1
        (["2", "4", "4", "4", "5", "5", "7", "9"], D("0.4")),  # mean 5, std 2
        (["0", "0"], None),  # mean 0
        ([], None),
    ],
)
def test_coefficient_of_variation_is_population_std_over_mean(
    values: list[str], cv: Decimal | None
) -> None:
    assert coefficient_of_variation(D(v) for v in values) == cv


@pytest.mark.parametrize(
    ("completions", "low"),
    [
        # mean 1, variance (0 + 0.0004 + 0.0004) / 3, std ≈ 0.0163 → CV 0.0163 < 0.05
        ({"a": "1.00", "b": "1.02", "c": "0.98"}, True),
        ({"a": "0.95", "b": "1.05"}, False),  # mean 1, std 0.05: CV = 0.05 is not under 0.05
        ({"a": "0.9", "b": "1.1"}, False),  # CV 0.1
        ({"a": "0", "b": "0"}, True),  # all equal: no discrimination at all
        ({"a": "0.9"}, False),  # needs at least 2 values
        ({}, False),
    ],
)
def test_low_discrimination_is_a_cv_under_five_percent(
    completions: dict[str, str], low: bool
) -> None:
    assert low_discrimination({u: D(c) for u, c in completions.items()}) is low


def test_low_discrimination_for_a_year_needs_every_month_low() -> None:
    low = {"a": D("1.00"), "b": D("1.01")}  # CV ≈ 0.005
    high = {"a": D("0.5"), "b": D("1.0")}
    year = {f"2026-{m:02d}": low for m in range(1, 13)}
    assert low_discrimination_for_year(year)
    assert not low_discrimination_for_year({**year, "2026-07": high})
    assert not low_discrimination_for_year({k: v for k, v in year.items() if k != "2026-12"})
    with pytest.raises(ValueError, match="one year"):
        low_discrimination_for_year({"2025-12": low, "2026-01": low})
