"""Scores, final deductions, ranks and grades (rulebook section 6)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from .levels import Absent
from .yearrules import DEFAULT_RULES, Number, YearRules, round_points, to_decimal

__all__ = [
    "Grade",
    "final_deduction",
    "grades",
    "rank_competition",
    "running_score",
    "settle",
    "top_share_count",
]

U = TypeVar("U", bound=Hashable)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


class Grade(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"

    @property
    def label(self) -> str:
        return _GRADE_LABELS[self]


_GRADE_LABELS = {
    Grade.EXCELLENT: "优秀",
    Grade.GOOD: "良好",
    Grade.FAIR: "一般",
    Grade.POOR: "较差",
}


def running_score(total_weight: Number, deductions: Number | Iterable[Decimal]) -> Decimal:
    """100 × (W − D) / W, clamped to [0, 100] and rounded to 2 decimals (half up).

    `deductions` is the current deduction sum D, or the individual current
    deductions to be summed. W must be positive.
    """
    w = to_decimal(total_weight, name="total_weight")
    if w <= _ZERO:
        raise ValueError(f"total_weight must be positive, got {w}")
    if isinstance(deductions, Number):
        d = to_decimal(deductions, name="deductions")
    else:
        d = sum((to_decimal(x, name="deduction") for x in deductions), _ZERO)
    score = _HUNDRED * (w - d) / w
    return round_points(min(_HUNDRED, max(_ZERO, score)))


def final_deduction(
    weight: Number, completion: Number | Absent, rules: YearRules = DEFAULT_RULES
) -> Decimal:
    """round(weight × (1 − min(c, 1)), 2) on December's completion; full weight when missing.

    The 1 is the year's scoring cap (`scoring_completion_cap`); a deduction is never
    negative, and a negative completion counts as 0. `UNAVAILABLE` is refused: the annual
    assessment cannot be settled on a value the platform could not provide.
    """
    w = to_decimal(weight, name="weight")
    if w <= _ZERO:
        raise ValueError(f"weight must be positive, got {w}")
    if completion is Absent.MISSING:
        return round_points(w)
    if completion is Absent.UNAVAILABLE:
        raise ValueError(
            "cannot compute a final deduction for an unavailable value; "
            "read the platform again or rule on it"
        )
    c = to_decimal(completion, name="completion")
    c = min(max(c, _ZERO), rules.scoring_completion_cap)
    return round_points(max(w * (_ONE - c), _ZERO))


def settle(pre_deduction_sum: Number, final: Number) -> Decimal:
    """The entry that settles the pre-deductions booked so far into the final deduction.

    Returns `final − pre_deduction_sum` (positive: more is deducted; negative:
    some of the pre-deduction is given back; 0: nothing to book).
    """
    return to_decimal(final, name="final") - to_decimal(pre_deduction_sum, name="pre_deduction_sum")


def rank_competition(scores: Mapping[U, Decimal]) -> dict[U, int]:
    """Competition ranking inside one category: higher is better, ties share a rank (1, 2, 2, 4).

    Scores are compared as exact Decimals (90.0 and 90.00 tie). The result is
    ordered by rank, then by the unit's string form, so it is deterministic.
    """
    ordered = sorted(scores.items(), key=lambda kv: (-to_decimal(kv[1], name="score"), str(kv[0])))
    ranks: dict[U, int] = {}
    previous: Decimal | None = None
    rank = 0
    for position, (unit, raw) in enumerate(ordered, start=1):
        score = to_decimal(raw, name="score")
        if previous is None or score != previous:
            rank = position
            previous = score
        ranks[unit] = rank
    return ranks


def top_share_count(n: int, rules: YearRules = DEFAULT_RULES) -> int:
    """How many places count as the top share of a category of n units: ceil(0.30 × n)."""
    if n < 0:
        raise ValueError(f"a category cannot have {n} units")
    return math.ceil(rules.excellent_top_share * n)


def grades(scores: Mapping[U, Decimal], rules: YearRules = DEFAULT_RULES) -> dict[U, Grade]:
    """Grade every unit of one category.

    优秀 excellent: score ≥ 90 and competition rank ≤ ceil(0.30 × n), n the number of
    units in the category. Ties at the boundary all qualify: with 7 units the top
    share is 3 places, and units ranked 1, 2, 3, 3 (score ≥ 90) are all excellent,
    because each has a rank within the top 3. A unit that meets the score but not
    the rank falls to 良好 if it is ≥ 80.
    良好 good ≥ 80, 一般 fair ≥ 60, 较差 poor below 60.
    """
    ranks = rank_competition(scores)
    places = top_share_count(len(ranks), rules)
    out: dict[U, Grade] = {}
    for unit, rank in ranks.items():
        score = to_decimal(scores[unit], name="score")
        if score >= rules.excellent_min_score and rank <= places:
            out[unit] = Grade.EXCELLENT
        elif score >= rules.good_min_score:
            out[unit] = Grade.GOOD
        elif score >= rules.fair_min_score:
            out[unit] = Grade.FAIR
        else:
            out[unit] = Grade.POOR
    return out
