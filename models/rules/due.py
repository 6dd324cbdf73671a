"""When a cycle's period is due (rulebook section 4): the one rule for "not before its time".

A period is due at its cycle's scheduled run for the period's last month, by the
year's rules and the working-day calendar:

- a month at its monthly analysis: the first working day after its upload deadline
  (so never before the deadline has passed), 09:00;
- a quarter or half-year on its last month's analysis day, at its own time after that
  month's analysis (10:00, 11:00), so every month of it is due by then;
- the year at its annual assessment time (12:00 on December's analysis day);
- a month's pre-deadline reminder on its reminder day (never before the month ends).

A cycle run refuses a period that is not due, whatever ``force`` says, and the backfill
never picks one. Pure: ``now`` and the calendar are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pendulum

from .periods import Cycle, Period, PeriodError, as_period, to_shanghai
from .workdays import WorkCalendar
from .yearrules import DEFAULT_RULES, YearRules

__all__ = ["CYCLE_LABELS_ZH", "DueCheck", "check_due", "due_at", "is_due"]

CYCLE_LABELS_ZH: dict[str, str] = {
    # keyed by ``Cycle`` (a ``StrEnum``): a stored cycle name finds its label too
    Cycle.PRE_DEADLINE_REMINDER: "截止前提醒",
    Cycle.MONTHLY_ANALYSIS: "月分析",
    Cycle.QUARTERLY_MONITORING: "季度监测",
    Cycle.HALF_YEAR_EVALUATION: "半年评估",
    Cycle.ANNUAL_ASSESSMENT: "年度考核",
}


def due_at(
    cycle: Cycle | str,
    period: Period | str,
    calendar: WorkCalendar,
    rules: YearRules = DEFAULT_RULES,
) -> pendulum.DateTime:
    """The instant (Asia/Shanghai) from which ``cycle`` may run for ``period``.

    ``period`` is of the cycle's kind (a month for the monthly analysis and the
    reminder); raises ``PeriodError`` otherwise.
    """
    the_cycle = Cycle(cycle)
    the_period = as_period(period)
    if the_period.kind is not the_cycle.period_kind:
        raise PeriodError(
            f"{the_cycle.value} assesses {the_cycle.period_kind.value} periods, "
            f"not {the_period.key!r}"
        )
    return calendar.cycle_run_at(the_cycle, the_period.months()[-1], rules)


def is_due(
    cycle: Cycle | str,
    period: Period | str,
    now: datetime,
    calendar: WorkCalendar,
    rules: YearRules = DEFAULT_RULES,
) -> bool:
    """Whether ``cycle`` may run for ``period`` at ``now`` (an aware instant)."""
    return to_shanghai(now) >= due_at(cycle, period, calendar, rules)


@dataclass(frozen=True)
class DueCheck:
    """Whether a period is due at ``now`` and, in Chinese, when it will be."""

    cycle: str
    period: str
    due_at: datetime
    now: datetime
    message: str

    @property
    def is_due(self) -> bool:
        return self.now >= self.due_at


def _local(at: datetime) -> str:
    local = to_shanghai(at)
    return f"{local.year}年{local.month}月{local.day}日 {local.hour:02d}:{local.minute:02d}"


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def check_due(
    cycle: Cycle | str,
    period: Period | str,
    now: datetime,
    calendar: WorkCalendar,
    rules: YearRules = DEFAULT_RULES,
) -> DueCheck:
    """``is_due`` with the reason a unit of the office reads when it is not.

    The message names the period, the cycle, when it will be due (local time) and why:
    the month's upload deadline, the closing month's analysis, or the annual time.
    """
    the_cycle = Cycle(cycle)
    the_period = as_period(period)
    at = due_at(the_cycle, the_period, calendar, rules)
    label = CYCLE_LABELS_ZH[the_cycle]
    last = the_period.months()[-1]
    if the_cycle is Cycle.MONTHLY_ANALYSIS:
        deadline = _day(calendar.upload_deadline(last, rules))
        why = f"该月数据的上传截止日为{deadline}，截止日过后方可分析"
    elif the_cycle is Cycle.PRE_DEADLINE_REMINDER:
        why = "提醒在截止日前发出，且不早于该月结束"
    elif the_cycle is Cycle.ANNUAL_ASSESSMENT:
        why = f"年度考核在{last.key}月分析之后的年度考核时间进行"
    else:
        why = f"须在{last.key}月分析之后进行"
    message = (
        f"{the_period.key} {label}尚未到时间，{_local(at)}（北京时间）起方可运行：{why}。"
        "本次未记账、未发送任何消息。"
    )
    return DueCheck(the_cycle.value, the_period.key, at, to_shanghai(now), message)
