"""Levels and pre-deductions for one unit, indicator and month (rulebook section 5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum

from .completion import IndicatorSpec, completion_of, display_completion, expected
from .yearrules import DEFAULT_RULES, Number, YearRules, round_points, to_decimal

__all__ = [
    "MISSING",
    "UNAVAILABLE",
    "Absent",
    "Assessment",
    "Level",
    "Observation",
    "assess",
    "assessor",
    "level_for_completion",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_NO_POINTS = Decimal("0.00")


class Level(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"
    MISSING = "missing"
    UNAVAILABLE = "unavailable"

    @property
    def label(self) -> str:
        """Chinese label used in messages and reports."""
        return _LABELS[self]

    @property
    def is_red(self) -> bool:
        """Red for the rulebook's purposes: a red completion or a missing upload."""
        return self is _RED or self is _MISSING


# The members as module constants: in Python 3.11 ``Level.RED`` goes through a
# descriptor, which costs more than a cell's arithmetic in the hot paths below.
_GREEN, _YELLOW, _ORANGE, _RED, _MISSING, _UNAVAILABLE = Level

_LABELS = {
    Level.GREEN: "正常",
    Level.YELLOW: "提醒",
    Level.ORANGE: "预警",
    Level.RED: "预扣分",
    Level.MISSING: "未按期上传",
    Level.UNAVAILABLE: "数据暂不可用",
}


class Absent(Enum):
    """Why there is no value: the unit did not upload it, or the platform could not be read."""

    MISSING = "missing"
    UNAVAILABLE = "unavailable"


MISSING = Absent.MISSING
UNAVAILABLE = Absent.UNAVAILABLE

Observation = Number | Absent
"""A submitted value, `MISSING` (not uploaded by the deadline) or `UNAVAILABLE`."""


@dataclass(frozen=True)
class Assessment:
    """The outcome for one unit, indicator and month.

    `actual`, `completion` and `display_completion` are None when there is no value.
    `pre_deduction` is the deduction this month's state calls for (points, 2 decimals).
    `reminder`: a reminder item is due; `warning`: a warning-ledger entry is due.
    """

    level: Level
    expected: Decimal
    actual: Decimal | None
    completion: Decimal | None
    display_completion: Decimal | None
    pre_deduction: Decimal
    reminder: bool
    warning: bool

    @property
    def is_red(self) -> bool:
        """Counts as a red indicator (red or missing) for the negative list."""
        return self.level.is_red


def level_for_completion(c: Decimal, rules: YearRules = DEFAULT_RULES) -> Level:
    """green c ≥ 0.95, yellow 0.85 ≤ c < 0.95, orange 0.70 ≤ c < 0.85, red c < 0.70."""
    if c >= rules.green_threshold:
        return _GREEN
    if c >= rules.yellow_threshold:
        return _YELLOW
    if c >= rules.orange_threshold:
        return _ORANGE
    return _RED


def _weight(weight: Number) -> Decimal:
    w = to_decimal(weight, name="weight")
    if w <= _ZERO:
        raise ValueError(f"weight must be positive, got {w}")
    return w


def assess(
    spec: IndicatorSpec,
    weight: Number,
    month_index: int,
    observation: Observation,
    rules: YearRules = DEFAULT_RULES,
) -> Assessment:
    """Level, completion and pre-deduction for one observation.

    - A value: level by completion; red pre-deducts round(weight × (1 − c), 2).
    - `MISSING` (the unit did not upload by the deadline): level missing, which is
      red, with a pre-deduction of round(0.5 × weight, 2).
    - `UNAVAILABLE` (the platform itself could not be read): level unavailable, no
      reminder, no warning and a pre-deduction of 0. Unavailability is never the
      unit's failing, so it must never pre-deduct; the 0 here is NOT a computed
      deduction to book. The caller keeps the ledger's previous sum for that
      indicator and plans nothing (pass None to `plan_entries`).
    """
    return assessor(spec, weight, month_index, rules)(observation)


def assessor(
    spec: IndicatorSpec, weight: Number, month_index: int, rules: YearRules = DEFAULT_RULES
) -> Callable[[Observation], Assessment]:
    """`assess` for one indicator and month, with what does not depend on the observation
    (weight, E, the missing and unavailable outcomes) worked out once: a month assesses
    every unit's cell of an indicator with it."""
    w = _weight(weight)
    e = expected(spec, month_index)  # checks the month
    unavailable = Assessment(_UNAVAILABLE, e, None, None, None, _NO_POINTS, False, False)
    missing = Assessment(
        _MISSING, e, None, None, None, round_points(w * rules.missing_share), True, True
    )

    def assess_one(observation: Observation) -> Assessment:
        if observation is Absent.UNAVAILABLE:
            return unavailable
        if observation is Absent.MISSING:
            return missing
        actual = to_decimal(observation, name="observation")
        c = completion_of(spec, month_index, actual)
        level = level_for_completion(c, rules)
        return Assessment(
            level=level,
            expected=e,
            actual=actual,
            completion=c,
            display_completion=display_completion(c, rules),
            pre_deduction=round_points(w * (_ONE - c)) if level is _RED else _NO_POINTS,
            reminder=level is not _GREEN,
            warning=level is _ORANGE or level is _RED,
        )

    return assess_one
