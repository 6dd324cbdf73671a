"""Expected values and completion per indicator direction (rulebook section 3).

Month index m is 1–12 (values are cumulative year-to-date for `increase`).
Completion is computed as one exact division where possible, so that a value
exactly at a level boundary (e.g. 0.95) compares exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .yearrules import DEFAULT_RULES, Number, YearRules, to_decimal

__all__ = [
    "Direction",
    "IndicatorSpec",
    "IndicatorSpecError",
    "completion",
    "display_completion",
    "expected",
    "scoring_completion",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_TWELVE = Decimal(12)


class IndicatorSpecError(ValueError):
    """An indicator's direction, target, baseline, plan or milestones are inconsistent."""


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"
    MILESTONE = "milestone"


@dataclass(frozen=True)
class IndicatorSpec:
    """What an indicator's value is measured against.

    - increase: `target` T ≥ 0, optional `plan` of 12 cumulative monthly values ≥ 0.
    - decrease: `baseline` B and `target` T with T ≤ B. The rulebook says T < B;
      T = B ("do not get worse") is accepted and gives B = E, so c = 0 above E.
    - milestone: `milestones`, the due month (1–12) of each milestone; `target`
      may be omitted and otherwise must equal the number of milestones.
    Numbers may be given as int/float/str and are stored as Decimal.
    """

    direction: Direction
    target: Decimal | None = None
    baseline: Decimal | None = None
    plan: tuple[Decimal, ...] | None = None
    milestones: tuple[int, ...] = ()

    @classmethod
    def increase(
        cls,
        target: Number,
        plan: Iterable[Number] | None = None,
    ) -> IndicatorSpec:
        return cls(
            Direction.INCREASE,
            target=to_decimal(target, name="target"),
            plan=None if plan is None else tuple(to_decimal(p, name="plan") for p in plan),
        )

    @classmethod
    def decrease(cls, baseline: Number, target: Number) -> IndicatorSpec:
        return cls(
            Direction.DECREASE,
            target=to_decimal(target, name="target"),
            baseline=to_decimal(baseline, name="baseline"),
        )

    @classmethod
    def milestone(cls, due_months: Iterable[int]) -> IndicatorSpec:
        return cls(Direction.MILESTONE, milestones=tuple(due_months))

    def __post_init__(self) -> None:
        try:
            direction = Direction(self.direction)
        except ValueError:
            raise IndicatorSpecError(
                f"direction must be one of {', '.join(d.value for d in Direction)}, "
                f"got {self.direction!r}"
            ) from None
        object.__setattr__(self, "direction", direction)
        for name in ("target", "baseline"):
            raw = getattr(self, name)
            if raw is not None:
                object.__setattr__(self, name, _decimal(raw, name))
        if self.plan is not None:
            plan = tuple(_decimal(p, f"plan[{i}]") for i, p in enumerate(self.plan))
            object.__setattr__(self, "plan", plan)
        object.__setattr__(self, "milestones", tuple(self.milestones))
        if direction is Direction.INCREASE:
            self._check_increase()
        elif direction is Direction.DECREASE:
            self._check_decrease()
        else:
            self._check_milestone()

    def _check_increase(self) -> None:
        if self.target is None:
            raise IndicatorSpecError("an increase indicator needs a target")
        if self.target < _ZERO:
            raise IndicatorSpecError(f"an increase target must not be negative, got {self.target}")
        if self.baseline is not None:
            raise IndicatorSpecError("baseline only applies to decrease indicators")
        if self.milestones:
            raise IndicatorSpecError("milestones only apply to milestone indicators")
        if self.plan is not None:
            if len(self.plan) != 12:
                raise IndicatorSpecError(
                    f"a monthly plan needs 12 cumulative values, got {len(self.plan)}"
                )
            for i, value in enumerate(self.plan):
                if value < _ZERO:
                    raise IndicatorSpecError(
                        f"plan value for month {i + 1} must not be negative, got {value}"
                    )

    def _check_decrease(self) -> None:
        if self.target is None or self.baseline is None:
            raise IndicatorSpecError("a decrease indicator needs a baseline and a target")
        if self.target > self.baseline:
            raise IndicatorSpecError(
                f"a decrease target must not be above its baseline, got baseline "
                f"{self.baseline} and target {self.target}"
            )
        if self.plan is not None:
            raise IndicatorSpecError("a monthly plan only applies to increase indicators")
        if self.milestones:
            raise IndicatorSpecError("milestones only apply to milestone indicators")

    def _check_milestone(self) -> None:
        if not self.milestones:
            raise IndicatorSpecError("a milestone indicator needs at least one milestone")
        for i, month in enumerate(self.milestones):
            if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
                raise IndicatorSpecError(
                    f"milestones[{i}] must be a due month from 1 to 12, got {month!r}"
                )
        if self.target is not None and self.target != len(self.milestones):
            raise IndicatorSpecError(
                f"a milestone target must equal the number of milestones "
                f"({len(self.milestones)}), got {self.target}"
            )
        if self.baseline is not None:
            raise IndicatorSpecError("baseline only applies to decrease indicators")
        if self.plan is not None:
            raise IndicatorSpecError("a monthly plan only applies to increase indicators")


def _decimal(value: object, name: str) -> Decimal:
    try:
        return to_decimal(value, name=name)
    except ValueError as exc:
        raise IndicatorSpecError(str(exc)) from None


def _month(month_index: int) -> int:
    if isinstance(month_index, bool) or not isinstance(month_index, int):
        raise ValueError(f"month_index must be an integer from 1 to 12, got {month_index!r}")
    if not 1 <= month_index <= 12:
        raise ValueError(f"month_index must be from 1 to 12, got {month_index}")
    return month_index


def _milestones_due(spec: IndicatorSpec, m: int) -> int:
    return sum(1 for due in spec.milestones if due <= m)


def expected(spec: IndicatorSpec, month_index: int) -> Decimal:
    """E at the end of month m.

    increase: plan[m] if a plan is given, else T × m / 12; decrease: B − (B − T) × m / 12;
    milestone: the number of milestones due by month m.
    """
    m = _month(month_index)
    if spec.direction is Direction.INCREASE:
        assert spec.target is not None
        if spec.plan is not None:
            return spec.plan[m - 1]
        return spec.target * m / _TWELVE
    if spec.direction is Direction.DECREASE:
        assert spec.target is not None and spec.baseline is not None
        return spec.baseline - (spec.baseline - spec.target) * m / _TWELVE
    return Decimal(_milestones_due(spec, m))


def completion(spec: IndicatorSpec, month_index: int, actual: Number) -> Decimal:
    """Completion c of `actual` against E for month m, uncapped, never below 0.

    increase / milestone: c = actual / E (1 when E = 0).
    decrease: 1 when actual ≤ E, else max(0, (B − actual) / (B − E)) (0 when B = E).
    """
    return completion_of(spec, _month(month_index), to_decimal(actual, name="actual"))


def completion_of(spec: IndicatorSpec, m: int, value: Decimal) -> Decimal:
    """``completion`` for a checked month (1–12) and a finite Decimal value."""
    if spec.direction is Direction.INCREASE:
        assert spec.target is not None
        if spec.plan is not None:
            e = spec.plan[m - 1]
            ratio = _ONE if e == _ZERO else value / e
        else:
            # actual / (T·m/12) computed as 12·actual / (T·m): one exact division.
            denominator = spec.target * m
            ratio = _ONE if denominator == _ZERO else value * _TWELVE / denominator
    elif spec.direction is Direction.DECREASE:
        assert spec.target is not None and spec.baseline is not None
        b, t = spec.baseline, spec.target
        # actual ≤ E ⇔ 12·actual ≤ 12·B − (B − T)·m, compared exactly.
        if value * _TWELVE <= b * _TWELVE - (b - t) * m:
            ratio = _ONE
        else:
            # B − E = (B − T)·m/12, which is 0 only when T = B.
            spread = (b - t) * m
            ratio = _ZERO if spread == _ZERO else (b - value) * _TWELVE / spread
    else:
        due = _milestones_due(spec, m)
        ratio = _ONE if due == 0 else value / Decimal(due)
    return max(_ZERO, ratio)


def display_completion(c: Decimal, rules: YearRules = DEFAULT_RULES) -> Decimal:
    """Completion as shown to people: capped at 1.2."""
    return min(c, rules.display_completion_cap)


def scoring_completion(c: Decimal, rules: YearRules = DEFAULT_RULES) -> Decimal:
    """Completion as used for points: capped at 1."""
    return min(c, rules.scoring_completion_cap)
