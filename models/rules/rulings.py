"""Appeal rulings (申诉复查) and the appeal window (rulebook section 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import pendulum

from .completion import IndicatorSpec
from .levels import Assessment, assess
from .periods import SHANGHAI, local_text, to_shanghai
from .workdays import WorkCalendar
from .yearrules import DEFAULT_RULES, Number, YearRules, round_points, to_decimal

__all__ = [
    "Ruling",
    "RulingError",
    "RulingKind",
    "RulingOutcome",
    "appeal_deadline",
    "apply_ruling",
    "is_appeal_in_time",
    "ruled_amount",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)


class RulingError(ValueError):
    """A ruling is inconsistent (e.g. `reduced` without a share in [0, 1])."""


class RulingKind(StrEnum):
    REJECTED = "rejected"
    CORRECTED = "corrected"
    WAIVED = "waived"
    REDUCED = "reduced"

    @property
    def label(self) -> str:
        return _RULING_LABELS[self]


_RULING_LABELS = {
    RulingKind.REJECTED: "驳回",
    RulingKind.CORRECTED: "更正数据",
    RulingKind.WAIVED: "免于扣分",
    RulingKind.REDUCED: "减轻扣分",
}


@dataclass(frozen=True)
class Ruling:
    """A ruling: `corrected` needs `corrected_value`, `reduced` needs `share` in [0, 1]
    (the part of the deduction removed); the others take neither."""

    kind: RulingKind
    corrected_value: Decimal | None = None
    share: Decimal | None = None

    def __post_init__(self) -> None:
        try:
            kind = RulingKind(self.kind)
        except ValueError:
            raise RulingError(
                f"ruling kind must be one of {', '.join(k.value for k in RulingKind)}, "
                f"got {self.kind!r}"
            ) from None
        object.__setattr__(self, "kind", kind)
        for name in ("corrected_value", "share"):
            raw = getattr(self, name)
            if raw is not None:
                try:
                    object.__setattr__(self, name, to_decimal(raw, name=name))
                except ValueError as exc:
                    raise RulingError(str(exc)) from None
        if kind is RulingKind.CORRECTED:
            if self.corrected_value is None:
                raise RulingError("a corrected ruling needs the corrected value")
        elif self.corrected_value is not None:
            raise RulingError(f"only a corrected ruling takes a corrected value, not {kind.value}")
        if kind is RulingKind.REDUCED:
            if self.share is None:
                raise RulingError("a reduced ruling needs the share of the deduction removed")
            if not _ZERO <= self.share <= _ONE:
                raise RulingError(f"a reduction share must be from 0 to 1, got {self.share}")
        elif self.share is not None:
            raise RulingError(f"only a reduced ruling takes a share, not {kind.value}")


@dataclass(frozen=True)
class RulingOutcome:
    """`after` is the recomputed assessment (corrected) or `before` unchanged;
    `amount` is the deduction that stands after the ruling (points, 2 decimals)."""

    ruling: Ruling
    before: Assessment
    after: Assessment
    amount: Decimal


def ruled_amount(ruling: Ruling, amount: Number) -> Decimal:
    """The deduction left of `amount` after a ruling that does not change the value.

    rejected → unchanged; waived → 0; reduced by s → round(amount × (1 − s), 2).
    Works for pre-deductions and final deductions alike. A corrected ruling needs
    the value recomputed: use `apply_ruling`.
    """
    a = to_decimal(amount, name="amount")
    if a < _ZERO:
        raise RulingError(f"a deduction must not be negative, got {a}")
    if ruling.kind is RulingKind.REJECTED:
        return a
    if ruling.kind is RulingKind.WAIVED:
        return round_points(_ZERO)
    if ruling.kind is RulingKind.REDUCED:
        assert ruling.share is not None
        return round_points(a * (_ONE - ruling.share))
    raise RulingError("a corrected ruling recomputes the value: use apply_ruling")


def apply_ruling(
    ruling: Ruling,
    assessment: Assessment,
    *,
    spec: IndicatorSpec,
    weight: Number,
    month_index: int,
    rules: YearRules = DEFAULT_RULES,
) -> RulingOutcome:
    """Apply a ruling to one month's assessment of one indicator.

    corrected: the corrected value replaces the observation (even a missing or
    unavailable one) and `assess` recomputes level and pre-deduction;
    waived: amount 0; reduced by s: round(amount × (1 − s), 2); rejected: unchanged.
    The caller books `plan_entry(current_sum, outcome.amount)` with the ruling as
    the entry's reason, and recomputes later cycles of the year.
    """
    if ruling.kind is RulingKind.CORRECTED:
        assert ruling.corrected_value is not None
        after = assess(spec, weight, month_index, ruling.corrected_value, rules)
        return RulingOutcome(ruling, assessment, after, after.pre_deduction)
    amount = ruled_amount(ruling, assessment.pre_deduction)
    return RulingOutcome(ruling, assessment, assessment, amount)


def _shanghai_date(when: datetime) -> date:
    local = to_shanghai(when)
    return date(local.year, local.month, local.day)


def _zh_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def appeal_deadline(
    sent_at: datetime, calendar: WorkCalendar, rules: YearRules = DEFAULT_RULES
) -> pendulum.DateTime:
    """End (23:59:59.999999 Asia/Shanghai) of the 5th working day after the date
    the result was sent; the sending day itself is never counted."""
    last = calendar.add_working_days(_shanghai_date(sent_at), rules.appeal_working_days)
    return pendulum.datetime(last.year, last.month, last.day, tz=SHANGHAI).end_of("day")


def is_appeal_in_time(
    sent_at: datetime,
    filed_at: datetime,
    calendar: WorkCalendar,
    rules: YearRules = DEFAULT_RULES,
) -> tuple[bool, str]:
    """Whether an appeal filed at `filed_at` is inside the window; the reason is in Chinese."""
    sent, filed = to_shanghai(sent_at), to_shanghai(filed_at)
    deadline = appeal_deadline(sent_at, calendar, rules)
    window = (
        f"结果于{_zh_date(sent.date())}发送，申诉期为发送后{rules.appeal_working_days}个工作日，"
        f"截至{_zh_date(deadline.date())}24时"
    )
    if filed < sent:
        return False, f"申诉提交时间（{local_text(filed)}）早于结果发送时间，无对应结果可申诉。"
    if filed <= deadline:
        return True, f"在申诉期内：{window}。"
    return (
        False,
        f"已超过申诉期，不予受理：{window}，申诉提交于{_zh_date(filed.date())}{filed:%H:%M}。",
    )
