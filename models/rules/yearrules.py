"""Every number of the rulebook, kept as per-year configuration (`YearRules`).

The defaults are the office's 2026 rules. A year's rules are plain data: they are
stored as JSON (`to_dict` / `from_dict`) and passed to the rule functions; nothing
here reads a database or the clock.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "DEFAULT_RULES",
    "Number",
    "YearRules",
    "YearRulesError",
    "round_points",
    "to_decimal",
]

_CENT = Decimal("0.01")

Number = Decimal | int | float | str
"""A number as callers may give it; converted with `to_decimal` (floats via `str`)."""


class YearRulesError(ValueError):
    """A year's rules are invalid; the message names the offending key."""


def to_decimal(value: object, *, name: str = "value") -> Decimal:
    """Convert an int, float, str or Decimal to a finite Decimal (floats via `str`).

    Raises ValueError (naming `name`) for booleans, non-numbers and NaN/infinity.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got a boolean ({value!r})")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    else:
        raise ValueError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return result


def round_points(value: Decimal) -> Decimal:
    """`round(value, 2)` as the rulebook means it: two decimals, halves rounded up."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


_DECIMAL_FIELDS = (
    "green_threshold",
    "yellow_threshold",
    "orange_threshold",
    "missing_share",
    "display_completion_cap",
    "scoring_completion_cap",
    "low_discrimination_cv",
    "excellent_min_score",
    "excellent_top_share",
    "good_min_score",
    "fair_min_score",
)
_INT_FIELDS = (
    "upload_deadline_day",
    "reminder_working_days_before_deadline",
    "negative_list_consecutive_months",
    "appeal_working_days",
)
_TIME_FIELDS = (
    "pre_deadline_reminder_time",
    "monthly_analysis_time",
    "quarterly_monitoring_time",
    "half_year_evaluation_time",
    "annual_assessment_time",
    "message_window_start",
    "message_window_end",
)
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class YearRules:
    """The numbers of one year's rulebook (defaults: the 2026 rulebook).

    Numbers may be given as int/str/float/Decimal and are stored as Decimal;
    times as `datetime.time` or "HH:MM". All times are Asia/Shanghai wall-clock times.
    """

    # Section 5: levels by completion c.
    green_threshold: Decimal = Decimal("0.95")
    yellow_threshold: Decimal = Decimal("0.85")
    orange_threshold: Decimal = Decimal("0.70")
    # Share of the weight pre-deducted when a value was not uploaded.
    missing_share: Decimal = Decimal("0.5")
    # Section 3: completion caps.
    display_completion_cap: Decimal = Decimal("1.2")
    scoring_completion_cap: Decimal = Decimal("1")
    # Section 4: calendar.
    upload_deadline_day: int = 5
    reminder_working_days_before_deadline: int = 2
    pre_deadline_reminder_time: time = field(default=time(9, 0))
    monthly_analysis_time: time = field(default=time(9, 0))
    quarterly_monitoring_time: time = field(default=time(10, 0))
    half_year_evaluation_time: time = field(default=time(11, 0))
    annual_assessment_time: time = field(default=time(12, 0))
    # Section 5: negative list; section 3: low discrimination.
    negative_list_consecutive_months: int = 2
    low_discrimination_cv: Decimal = Decimal("0.05")
    # Section 7: appeals.
    appeal_working_days: int = 5
    # Section 6: grades.
    excellent_min_score: Decimal = Decimal("90")
    excellent_top_share: Decimal = Decimal("0.30")
    good_min_score: Decimal = Decimal("80")
    fair_min_score: Decimal = Decimal("60")
    # Section 9: messages go out on working days inside this window.
    message_window_start: time = field(default=time(9, 0))
    message_window_end: time = field(default=time(18, 0))

    def __post_init__(self) -> None:
        for name in _DECIMAL_FIELDS:
            try:
                value = to_decimal(getattr(self, name), name=name)
            except ValueError as exc:
                raise YearRulesError(str(exc)) from None
            object.__setattr__(self, name, value)
        for name in _INT_FIELDS:
            raw = getattr(self, name)
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise YearRulesError(f"{name} must be an integer, got {raw!r}")
        for name in _TIME_FIELDS:
            object.__setattr__(self, name, _parse_time(name, getattr(self, name)))
        self._validate()

    def _validate(self) -> None:
        def fail(key: str, why: str) -> None:
            raise YearRulesError(f"{key} {why} (got {getattr(self, key)!r})")

        zero, one = Decimal(0), Decimal(1)
        if not zero <= self.orange_threshold <= one:
            fail("orange_threshold", "must be between 0 and 1")
        if not self.orange_threshold <= self.yellow_threshold:
            fail("yellow_threshold", "must be at least orange_threshold")
        if not self.yellow_threshold <= self.green_threshold <= one:
            fail("green_threshold", "must be between yellow_threshold and 1")
        if not zero <= self.missing_share <= one:
            fail("missing_share", "must be between 0 and 1")
        if self.scoring_completion_cap <= zero:
            fail("scoring_completion_cap", "must be positive")
        if self.display_completion_cap < self.scoring_completion_cap:
            fail("display_completion_cap", "must be at least scoring_completion_cap")
        if not 1 <= self.upload_deadline_day <= 28:
            fail("upload_deadline_day", "must be a day of month from 1 to 28")
        if self.reminder_working_days_before_deadline < 0:
            fail("reminder_working_days_before_deadline", "must not be negative")
        if self.negative_list_consecutive_months < 1:
            fail("negative_list_consecutive_months", "must be at least 1")
        if self.low_discrimination_cv < zero:
            fail("low_discrimination_cv", "must not be negative")
        if self.appeal_working_days < 1:
            fail("appeal_working_days", "must be at least 1")
        if not zero < self.excellent_top_share <= one:
            fail("excellent_top_share", "must be greater than 0 and at most 1")
        if not zero <= self.fair_min_score <= self.good_min_score:
            fail("good_min_score", "must be at least fair_min_score (and both not negative)")
        if not self.good_min_score <= self.excellent_min_score <= Decimal(100):
            fail("excellent_min_score", "must be between good_min_score and 100")
        if not self.message_window_start < self.message_window_end:
            fail("message_window_end", "must be after message_window_start")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly mapping: Decimals as strings, times as "HH:MM", integers as ints."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                out[f.name] = str(value)
            elif isinstance(value, time):
                out[f.name] = value.strftime("%H:%M")
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: object) -> YearRules:
        """Build rules from a mapping as written by `to_dict`; absent keys take the defaults.

        Unknown keys are refused; every error names the bad key.
        """
        if not isinstance(data, dict):
            raise YearRulesError(f"year rules must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise YearRulesError(
                f"unknown year-rules key(s): {', '.join(unknown)}; known keys: "
                f"{', '.join(sorted(known))}"
            )
        return cls(**data)


def _parse_time(name: str, value: object) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise YearRulesError(f"{name} must be a wall-clock time without timezone")
        return value
    if isinstance(value, str):
        match = _TIME_RE.match(value.strip())
        if match:
            return time(int(match.group(1)), int(match.group(2)))
    raise YearRulesError(f"{name} must be a time written as 'HH:MM' (e.g. '09:00'), got {value!r}")


DEFAULT_RULES = YearRules()
