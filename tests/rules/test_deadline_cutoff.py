"""The upload cut-off and the message window: when a value counts, when a message goes."""

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


def test_messages_go_out_on_working_days_inside_the_years_window() -> None:
    cal = WorkCalendar()
    thursday_ten = datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI)
    assert cal.in_message_window(thursday_ten)
    assert not cal.in_message_window(thursday_ten.replace(hour=18))
    assert not cal.in_message_window(datetime(2026, 10, 3, 10, 0, tzinfo=SHANGHAI))  # holiday
    late = YearRules(message_window_start="10:30", message_window_end="20:00")
    assert not cal.in_message_window(thursday_ten, late)
    assert cal.in_message_window(thursday_ten.replace(hour=19), late)
