"""Appeal deadlines counted from the day a message is actually delivered (rulebook section 7).

A unit may appeal a result within 5 working days after it was *sent* to it. A message
queued today may reach the unit days later (outside the send window, a channel down, a
catch-up): so a message whose `AppealWindow` counts from delivery is rendered with a
placeholder (`appeal_placeholder`), and the delivery fills in the last day from the day
it is delivered (`fill_appeal_deadline`), the same day `appeal_deadline` counts from
when intake checks an appeal. The sending day itself is never counted, so no message
names a deadline before its sending day.

Pure: the caller passes the delivery time and the working-day calendar.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from models.rules.periods import to_shanghai
from models.rules.workdays import WorkCalendar

__all__ = [
    "APPEAL_PLACEHOLDER_MARK",
    "appeal_placeholder",
    "delivery_day",
    "fill_appeal_deadline",
    "has_appeal_placeholder",
]

APPEAL_PLACEHOLDER_MARK = "⟦送达后"
"""How every placeholder starts (a quick test before the pattern is searched)."""
_PLACEHOLDER = re.compile(r"⟦送达后([1-9][0-9]?)个工作日⟧")


def appeal_placeholder(working_days: int) -> str:
    """What a body holds until delivery: ``⟦送达后5个工作日⟧`` (no markup, no escaping)."""
    if not 1 <= working_days <= 99:
        raise ValueError(f"an appeal window is 1 to 99 working days, got {working_days}")
    return f"⟦送达后{working_days}个工作日⟧"


def has_appeal_placeholder(text: str) -> bool:
    return APPEAL_PLACEHOLDER_MARK in text and _PLACEHOLDER.search(text) is not None


def delivery_day(delivered_at: datetime) -> date:
    """The day (Asia/Shanghai) a message was delivered."""
    local = to_shanghai(delivered_at)
    return date(local.year, local.month, local.day)


def _label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def fill_appeal_deadline(text: str, delivered_at: datetime, calendar: WorkCalendar) -> str:
    """``text`` with each placeholder replaced by the last day of the window: the n-th
    working day after the delivery day (2026年2月13日). Text without one is returned as is."""
    if APPEAL_PLACEHOLDER_MARK not in text:
        return text
    if delivered_at.tzinfo is None:
        raise ValueError("delivered_at must be an aware datetime")
    day = delivery_day(delivered_at)

    def last_day(match: re.Match[str]) -> str:
        return _label(calendar.add_working_days(day, int(match.group(1))))

    return _PLACEHOLDER.sub(last_day, text)
