from decimal import Decimal

import pytest

from models.rules import (
    MISSING,
    UNAVAILABLE,
    IndicatorSpec,
    Level,
    YearRules,
    assess,
    level_for_completion,
)

D = Decimal
# T = 100 at month 12: E = 100, so c = actual / 100.
SPEC = IndicatorSpec.increase(100)


@pytest.mark.parametrize(
    ("actual", "level", "pre_deduction"),
    [
        ("95", Level.GREEN, D("0.00")),  # c = 0.95 exactly: green
        ("94.99", Level.YELLOW, D("0.00")),
        ("85", Level.YELLOW, D("0.00")),  # c = 0.85 exactly: yellow
        ("84.99", Level.ORANGE, D("0.00")),
        ("70", Level.ORANGE, D("0.00")),  # c = 0.70 exactly: orange, no deduction
        ("69.99", Level.RED, D("3.00")),  # 10 × (1 − 0.6999) = 3.001 → 3.00
        ("50", Level.RED, D("5.00")),  # 10 × (1 − 0.5) = 5
        ("0", Level.RED, D("10.00")),  # 10 × (1 − 0) = 10
        ("130", Level.GREEN, D("0.00")),
    ],
)
def test_every_level_boundary_with_weight_10(
    actual: str, level: Level, pre_deduction: Decimal
) -> None:
    result = assess(SPEC, 10, 12, D(actual))
    assert result.level is level
    assert result.pre_deduction == pre_deduction


def test_red_pre_deduction_rounds_half_up() -> None:
    # weight 5, c = 0.699: 5 × 0.301 = 1.505 → 1.51 (half up, not 1.50)
    assert assess(SPEC, 5, 12, D("69.9")).pre_deduction == D("1.51")


def test_a_missing_value_is_red_with_half_the_weight_pre_deducted() -> None:
    result = assess(SPEC, 10, 12, MISSING)  # 0.5 × 10 = 5
    assert result.level is Level.MISSING
    assert result.is_red
    assert result.pre_deduction == D("5.00")
    assert (result.reminder, result.warning) == (True, True)
    assert (result.actual, result.completion, result.display_completion) == (None, None, None)
    assert result.expected == D(100)
    # 0.5 × 0.25 = 0.125 → 0.13 (half up)
    assert assess(SPEC, D("0.25"), 12, MISSING).pre_deduction == D("0.13")


def test_an_unavailable_value_is_never_pre_deducted_nor_reminded() -> None:
    result = assess(SPEC, 10, 12, UNAVAILABLE)
    assert result.level is Level.UNAVAILABLE
    assert not result.is_red
    assert result.pre_deduction == D(0)
    assert (result.reminder, result.warning) == (False, False)
    assert result.actual is None


@pytest.mark.parametrize(
    ("actual", "reminder", "warning"),
    [("96", False, False), ("90", True, False), ("80", True, True), ("60", True, True)],
)
def test_reminder_and_warning_flags_follow_the_level(
    actual: str, reminder: bool, warning: bool
) -> None:
    result = assess(SPEC, 10, 12, D(actual))
    assert (result.reminder, result.warning) == (reminder, warning)


def test_the_assessment_carries_expected_actual_and_both_completions() -> None:
    # E(6) = 100 × 6 / 12 = 50; actual 65 → c = 1.3, shown as 1.2
    result = assess(SPEC, 10, 6, 65)
    assert result.expected == D(50)
    assert result.actual == D(65)
    assert result.completion == D("1.3")
    assert result.display_completion == D("1.2")


def test_thresholds_come_from_the_year_rules() -> None:
    strict = YearRules(green_threshold=D("0.98"))
    assert assess(SPEC, 10, 12, 96, strict).level is Level.YELLOW
    assert level_for_completion(D("0.96")) is Level.GREEN


def test_levels_have_chinese_labels() -> None:
    assert [Level.YELLOW.label, Level.ORANGE.label, Level.RED.label] == ["提醒", "预警", "预扣分"]
    assert Level.MISSING.label == "未按期上传"


@pytest.mark.parametrize("weight", [0, -1, "x"])
def test_weight_must_be_a_positive_number(weight: object) -> None:
    with pytest.raises(ValueError, match="weight"):
        assess(SPEC, weight, 12, 1)  # type: ignore[arg-type]
