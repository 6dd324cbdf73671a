"""The upload cut-off: the last instant a month's value counts as uploaded on time."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.rules import SHANGHAI, Period, WorkCalendar, YearRules, deadline_cutoff


def test_september_2026_values_count_until_the_end_of_8_october() -> None:
    cutoff = deadline_cutoff(Period.month(2026, 9), WorkCalendar(), YearRules())
    assert cutoff == datetime(2026, 10, 8, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert (cutoff + timedelta(microseconds=1)).date().isoformat() == "2026-10-09"


def test_the_cut_off_follows_the_years_deadline_day() -> None:
    later = YearRules(upload_deadline_day=10)  # 10 March 2026 is a Tuesday
    cutoff = WorkCalendar().upload_cutoff(Period.month(2026, 2), later)
    assert cutoff.astimezone(SHANGHAI).date().isoformat() == "2026-03-10"
