"""The year's timetable of cycles, as rows for the CLI and for deployment schedules."""

from __future__ import annotations

import warnings
from datetime import date
from typing import Any

from models.rules import Period, WorkCalendar, YearRules

CYCLE_LABELS: dict[str, str] = {
    "pre_deadline_reminder": "截止前提醒",
    "monthly_analysis": "月分析",
    "quarterly_monitoring": "季度监测",
    "half_year_evaluation": "半年评估",
    "annual_assessment": "年度考核",
}
UPLOAD_DEADLINE = "upload_deadline"
UPLOAD_DEADLINE_LABEL = "数据上传截止"


def timetable_rows(
    year: int, calendar: WorkCalendar, rules: YearRules | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every scheduled run of ``year``, each month's upload deadline, and the calendar's
    fallback warnings.

    A deadline row (``cycle`` "upload_deadline") carries the deadline day as ``run_at``
    (a date: values count until the end of that day, Beijing time) and sorts after the
    runs of the same day.
    """
    the_rules = rules or YearRules()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # surfaced once each below, via calendar.warnings
        entries = calendar.year_timetable(year, the_rules)
        deadlines = [
            (month, calendar.upload_deadline(month, the_rules))
            for month in Period.whole_year(year).months()
        ]
    keyed: list[tuple[tuple[date, int, str], dict[str, str]]] = [
        (
            (e.run_at.date(), 0, e.run_at.isoformat()),
            {
                "cycle": str(e.cycle),
                "period": e.period_key,
                "month": e.month_key,
                "run_at": e.run_at.isoformat(),
                "label": f"{CYCLE_LABELS[str(e.cycle)]} {e.period_key}",
            },
        )
        for e in entries
    ]
    keyed += [
        (
            (day, 1, ""),
            {
                "cycle": UPLOAD_DEADLINE,
                "period": month.key,
                "month": month.key,
                "run_at": day.isoformat(),
                "label": f"{UPLOAD_DEADLINE_LABEL} {month.key}（当日24时前）",
            },
        )
        for month, day in deadlines
    ]
    rows = [row for _key, row in sorted(keyed, key=lambda item: item[0])]
    return rows, [w.message for w in calendar.warnings]
