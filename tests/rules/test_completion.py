from decimal import Decimal

import pytest

from models.rules import (
    DEFAULT_RULES,
    Direction,
    IndicatorSpec,
    IndicatorSpecError,
    completion,
    display_completion,
    expected,
    scoring_completion,
)

D = Decimal

INCREASE_120 = IndicatorSpec.increase(120)
PLANNED = IndicatorSpec.increase(120, plan=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 120])
DECREASE_80_TO_68 = IndicatorSpec.decrease(baseline=80, target=68)
MILESTONES = IndicatorSpec.milestone([3, 6, 6, 9])


@pytest.mark.parametrize(
    ("spec", "month", "e"),
    [
        (INCREASE_120, 3, D(30)),  # 120 × 3 / 12 = 30
        (INCREASE_120, 12, D(120)),
        (PLANNED, 2, D(10)),  # plan[2]
        (DECREASE_80_TO_68, 6, D(74)),  # 80 − (80 − 68) × 6 / 12 = 80 − 6 = 74
        (DECREASE_80_TO_68, 12, D(68)),
        (MILESTONES, 2, D(0)),  # none due by month 2
        (MILESTONES, 6, D(3)),  # due 3, 6, 6
        (MILESTONES, 12, D(4)),
    ],
)
def test_expected_value_follows_the_direction(spec: IndicatorSpec, month: int, e: Decimal) -> None:
    assert expected(spec, month) == e


@pytest.mark.parametrize(
    ("spec", "month", "actual", "c"),
    [
        # increase, T = 120: E(3) = 30
        (INCREASE_120, 3, 27, D("0.9")),  # 27 / 30
        (INCREASE_120, 12, 150, D("1.25")),  # 150 / 120, uncapped
        (INCREASE_120, 3, -5, D(0)),  # −5 / 30 < 0 → floored at 0
        (IndicatorSpec.increase(0), 6, 0, D(1)),  # E = 0 → 1
        (IndicatorSpec.increase(0), 6, 5, D(1)),
        (PLANNED, 1, 0, D(1)),  # plan[1] = 0 → 1
        (PLANNED, 2, 8, D("0.8")),  # 8 / 10
        (IndicatorSpec.increase("0.3"), 12, "0.15", D("0.5")),  # 0.15 / 0.3
        (IndicatorSpec.increase(100), 1, D("7.5"), D("0.9")),  # 12 × 7.5 / (100 × 1)
        # decrease, B = 80, T = 68: E(6) = 74, B − E = 6
        (DECREASE_80_TO_68, 6, 74, D(1)),  # actual = E
        (DECREASE_80_TO_68, 6, 70, D(1)),  # actual < E
        (DECREASE_80_TO_68, 6, 77, D("0.5")),  # (80 − 77) / 6
        (DECREASE_80_TO_68, 6, 80, D(0)),  # (80 − 80) / 6
        (DECREASE_80_TO_68, 6, 85, D(0)),  # (80 − 85) / 6 < 0 → 0
        (DECREASE_80_TO_68, 12, 71, D("0.75")),  # (80 − 71) / (80 − 68) = 9 / 12
        # decrease with T = B: E = B, so B − E = 0
        (IndicatorSpec.decrease(50, 50), 6, 50, D(1)),  # actual ≤ E → 1
        (IndicatorSpec.decrease(50, 50), 6, 51, D(0)),  # B = E and actual > E → 0
        # milestone (3, 6, 6, 9)
        (MILESTONES, 2, 0, D(1)),  # E = 0 → 1
        (MILESTONES, 6, 2, D(2) / D(3)),  # 2 / 3
        (MILESTONES, 9, 3, D("0.75")),  # 3 / 4
        (MILESTONES, 12, 4, D(1)),
    ],
)
def test_completion_matches_the_rulebook_formulas(
    spec: IndicatorSpec, month: int, actual: object, c: Decimal
) -> None:
    assert completion(spec, month, actual) == c  # type: ignore[arg-type]


def test_completion_is_capped_at_1_2_for_display_and_1_for_scoring() -> None:
    c = completion(INCREASE_120, 12, 150)  # 1.25
    assert display_completion(c, DEFAULT_RULES) == D("1.2")
    assert scoring_completion(c, DEFAULT_RULES) == D(1)
    assert display_completion(D("0.9")) == D("0.9")
    assert scoring_completion(D("0.9")) == D("0.9")


def test_floats_are_converted_through_their_string_form() -> None:
    spec = IndicatorSpec.increase(0.3)
    assert spec.target == D("0.3")
    # 0.1 + 0.2 as floats is 0.30000000000000004 → completion just above 1
    assert completion(spec, 12, 0.1 + 0.2) == D("1.000000000000000133333333333")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "up", "target": 1}, "direction must be one of"),
        ({"direction": Direction.INCREASE}, "needs a target"),
        ({"direction": Direction.INCREASE, "target": -1}, "must not be negative"),
        ({"direction": Direction.INCREASE, "target": 1, "baseline": 2}, "baseline only applies"),
        ({"direction": Direction.INCREASE, "target": 1, "plan": (1,) * 11}, "12 cumulative values"),
        (
            {"direction": Direction.INCREASE, "target": 1, "plan": (-1,) + (1,) * 11},
            "month 1 must not be negative",
        ),
        ({"direction": Direction.DECREASE, "target": 1}, "needs a baseline and a target"),
        (
            {"direction": Direction.DECREASE, "target": 90, "baseline": 80},
            "not be above its baseline",
        ),
        ({"direction": Direction.MILESTONE}, "at least one milestone"),
        ({"direction": Direction.MILESTONE, "milestones": (3, 13)}, r"milestones\[1\]"),
        ({"direction": Direction.MILESTONE, "milestones": (3,), "target": 2}, "must equal"),
        ({"direction": Direction.INCREASE, "target": "lots"}, "target must be a number"),
    ],
)
def test_inconsistent_indicator_specs_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(IndicatorSpecError, match=message):
        IndicatorSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("month", [0, 13, True])
def test_month_index_must_be_1_to_12(month: int) -> None:
    with pytest.raises(ValueError, match="month_index"):
        completion(INCREASE_120, month, 1)
