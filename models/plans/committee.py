"""The committee's deadline in working days, and finding an appeal by either of its ids.

Pure: the caller passes ``now`` and the working-day calendar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from models.errors import InputError
from models.rules import SHANGHAI, WorkCalendar, local_text

__all__ = ["AppealRef", "CommitteeDeadline", "committee_deadline", "parse_appeal_ref"]

OFFICE_CLOSES = time(18, 0)
_PLATFORM_ID = re.compile(r"^[^\x00-\x20\x7f]{1,120}$")
"""The platform's appeal id: 1–120 printable characters (README, "What the platform may send")."""


@dataclass(frozen=True)
class CommitteeDeadline:
    """The committee decides by ``due`` (18:00 Beijing time of the n-th working day)."""

    working_days: int
    due: datetime

    def seconds_from(self, now: datetime) -> int:
        return max(1, int((self.due - now).total_seconds()))

    @property
    def label(self) -> str:
        return f"{self.working_days} 个工作日（至 {local_text(self.due)} 北京时间）"


def committee_deadline(
    now: datetime, working_days: int, calendar: WorkCalendar
) -> CommitteeDeadline:
    """18:00 Beijing time on the ``working_days``-th working day after ``now``'s day."""
    if working_days < 1:
        raise InputError(f"考核委审定期限应为至少 1 个工作日，收到 {working_days}")
    today = now.astimezone(SHANGHAI).date()
    day = calendar.add_working_days(today, working_days)
    due = datetime.combine(day, OFFICE_CLOSES, tzinfo=SHANGHAI).astimezone(ZoneInfo("UTC"))
    return CommitteeDeadline(working_days, due)


@dataclass(frozen=True)
class AppealRef:
    """An appeal as staff write it: the platform's id (ap-202610-01) or the internal id (12)."""

    internal_id: int | None
    platform_id: str | None

    def __str__(self) -> str:
        return self.platform_id or str(self.internal_id)


def parse_appeal_ref(text: str | int) -> AppealRef:
    value = str(text).strip()
    if value.isdigit():
        return AppealRef(int(value), None)
    if _PLATFORM_ID.match(value):
        return AppealRef(None, value)
    raise InputError(
        f"申诉编号“{value}”无法识别：请填写平台申诉编号（如 ap-202610-01）或内部编号（如 12）"
    )
