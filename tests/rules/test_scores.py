from decimal import Decimal

import pytest

from models.rules import (
    MISSING,
    UNAVAILABLE,
    Grade,
    YearRules,
    final_deduction,
    grades,
    rank_competition,
    running_score,
    settle,
    top_share_count,
)

D = Decimal


@pytest.mark.parametrize(
    ("w", "d", "score"),
    [
        ("100", "7.5", D("92.50")),  # 100 × 92.5 / 100
        ("30", "10", D("66.67")),  # 100 × 20 / 30 = 66.666… → 66.67
        ("40", "0.002", D("100.00")),  # 100 × 39.998 / 40 = 99.995 → 100.00 (half up)
        ("30", "0", D("100.00")),
        ("30", "45", D("0.00")),  # 100 × −15 / 30 = −50 → clamped to 0
        ("30", "-3", D("100.00")),  # 110 → clamped to 100
    ],
)
def test_running_score_is_the_share_of_weight_kept(w: str, d: str, score: Decimal) -> None:
    assert running_score(D(w), D(d)) == score


def test_running_score_sums_a_list_of_deductions() -> None:
    # W = 50, D = 1.25 + 2.5 = 3.75: 100 × 46.25 / 50 = 92.5
    assert running_score(50, [D("1.25"), D("2.5")]) == D("92.50")


def test_running_score_needs_a_positive_total_weight() -> None:
    with pytest.raises(ValueError, match="total_weight"):
        running_score(0, 0)


@pytest.mark.parametrize(
    ("weight", "c", "deduction"),
    [
        ("10", D("0.8"), D("2.00")),  # 10 × (1 − 0.8)
        ("10", D("1.3"), D("0.00")),  # min(1.3, 1) = 1
        ("10", D("0.333"), D("6.67")),  # 10 × 0.667
        ("5", D("0.699"), D("1.51")),  # 5 × 0.301 = 1.505 → 1.51 (half up)
        ("10", D("-0.2"), D("10.00")),  # negative completion counts as 0
        ("10", MISSING, D("10.00")),  # full weight when missing
    ],
)
def test_final_deduction_uses_december_completion_capped_at_1(
    weight: str, c: object, deduction: Decimal
) -> None:
    assert final_deduction(D(weight), c) == deduction  # type: ignore[arg-type]


def test_final_deduction_refuses_an_unavailable_value() -> None:
    with pytest.raises(ValueError, match="unavailable"):
        final_deduction(10, UNAVAILABLE)


@pytest.mark.parametrize(
    ("pre", "final", "delta"),
    [
        ("5.00", "2.00", D("-3.00")),  # 3 points of pre-deduction given back
        ("1.50", "6.67", D("5.17")),  # 5.17 more confirmed
        ("2.00", "2.00", D("0.00")),
    ],
)
def test_settling_books_the_difference_to_the_final_deduction(
    pre: str, final: str, delta: Decimal
) -> None:
    assert settle(D(pre), D(final)) == delta


def test_ties_share_a_rank_and_the_next_rank_is_skipped() -> None:
    scores = {"a": D("95"), "b": D("90"), "c": D("90.00"), "d": D("80")}
    assert rank_competition(scores) == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_ranking_is_deterministic_and_handles_all_ties_and_empty() -> None:
    ranks = rank_competition({"z": D(70), "y": D(70), "x": D(70)})
    assert list(ranks.items()) == [("x", 1), ("y", 1), ("z", 1)]
    assert rank_competition({}) == {}


@pytest.mark.parametrize(
    ("n", "places"),
    # ceil(0.3 n): 0 → 0, 0.3 → 1, 0.9 → 1, 1.2 → 2, 2.1 → 3, 3.0 → 3, 3.3 → 4
    [(0, 0), (1, 1), (3, 1), (4, 2), (7, 3), (10, 3), (11, 4)],
)
def test_the_top_30_percent_is_rounded_up(n: int, places: int) -> None:
    assert top_share_count(n) == places


def test_seven_units_give_three_excellent_places() -> None:
    scores = {
        "A": D(98),
        "B": D(95),
        "C": D(93),
        "D": D(91),  # ≥ 90 but rank 4 > ceil(0.3 × 7) = 3 → good
        "E": D(85),
        "F": D(70),
        "G": D(50),
    }
    assert grades(scores) == {
        "A": Grade.EXCELLENT,
        "B": Grade.EXCELLENT,
        "C": Grade.EXCELLENT,
        "D": Grade.GOOD,
        "E": Grade.GOOD,
        "F": Grade.FAIR,
        "G": Grade.POOR,
    }


def test_units_tied_at_the_boundary_rank_all_qualify_as_excellent() -> None:
    # ranks 1, 2, 3, 3: both units ranked 3 are within the top 3 places.
    scores = {"A": D(98), "B": D(95), "C": D(93), "D": D(93), "E": D(85), "F": D(70), "G": D(50)}
    result = grades(scores)
    assert [u for u, g in result.items() if g is Grade.EXCELLENT] == ["A", "B", "C", "D"]


def test_excellent_needs_the_score_as_well_as_the_rank() -> None:
    # ceil(0.3 × 3) = 1 place; the top unit has only 89.99.
    assert grades({"A": D("89.99"), "B": D(80), "C": D("79.99")}) == {
        "A": Grade.GOOD,
        "B": Grade.GOOD,
        "C": Grade.FAIR,
    }


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (D(90), Grade.EXCELLENT),
        (D(80), Grade.GOOD),
        (D("79.99"), Grade.FAIR),
        (D(60), Grade.FAIR),
        (D("59.99"), Grade.POOR),
    ],
)
def test_grade_boundaries_for_a_category_of_one(score: Decimal, grade: Grade) -> None:
    assert grades({"only": score}) == {"only": grade}


def test_grade_thresholds_come_from_the_year_rules() -> None:
    rules = YearRules(excellent_top_share=D("0.5"))  # ceil(0.5 × 2) = 1 place
    assert grades({"A": D(95), "B": D(94)}, rules) == {"A": Grade.EXCELLENT, "B": Grade.GOOD}


def test_grades_have_chinese_labels() -> None:
    assert [g.label for g in Grade] == ["优秀", "良好", "一般", "较差"]
