"""The year's timetable of cycles, as rows for the CLI and for deployment schedules."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from models.rules import YearRules
from tasks.calendar import load_work_calendar

CYCLE_LABELS: dict[str, str] = {
    "pre_deadline_reminder": "截止前提醒",
    "monthly_analysis": "月分析",
    "quarterly_monitoring": "季度监测",
    "half_year_evaluation": "半年评估",
    "annual_assessment": "年度考核",
}


def timetable_rows(
    year: int, overrides: Path | None, rules: YearRules | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every scheduled run of ``year`` and the calendar's fallback warnings."""
    calendar = load_work_calendar(overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # surfaced once each below, via calendar.warnings
        entries = calendar.year_timetable(year, rules or YearRules())
    rows = [
        {
            "cycle": str(e.cycle),
            "period": e.period_key,
            "month": e.month_key,
            "run_at": e.run_at.isoformat(),
            "label": f"{CYCLE_LABELS[str(e.cycle)]} {e.period_key}",
        }
        for e in entries
    ]
    return rows, [w.message for w in calendar.warnings]
