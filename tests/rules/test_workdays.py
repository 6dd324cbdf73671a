import warnings
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from models.rules import (
    DEFAULT_RULES,
    CalendarFallbackWarning,
    CalendarOverrideError,
    Cycle,
    PeriodError,
    WorkCalendar,
    YearRules,
    overrides_from_mapping,
)

CST = timezone(timedelta(hours=8))


def test_september_2026_deadline_moves_to_the_next_working_day() -> None:
    # 2026-10-05 is a Monday inside the National Day holiday (10-01..10-07); 10-08 works.
    assert WorkCalendar().upload_deadline("2026-09") == date(2026, 10, 8)


def test_september_2026_monthly_analysis_runs_on_october_9_at_nine() -> None:
    run_at = WorkCalendar().monthly_analysis_at("2026-09")
    assert run_at == datetime(2026, 10, 9, 9, 0, tzinfo=CST)
    assert run_at.isoformat() == "2026-10-09T09:00:00+08:00"


def test_a_reminder_is_two_working_days_before_the_deadline() -> None:
    # May 2026: deadline Friday 06-05, so Thursday 06-04 (1) and Wednesday 06-03 (2).
    assert WorkCalendar().reminder_day("2026-05") == date(2026, 6, 3)


def test_september_2026_reminder_goes_on_october_8_not_before_the_month_ends() -> None:
    # Two working days before 10-08 (10-01..10-07 off) is 09-29, inside September:
    # the reminder waits for the first working day after the month, the deadline itself.
    assert WorkCalendar().reminder_day("2026-09") == date(2026, 10, 8)


def test_a_deadline_on_a_real_make_up_sunday_stays_on_it() -> None:
    # Real 调休 from chinese_calendar: Sunday 2019-05-05 was a working day (May Day 2019).
    cal = WorkCalendar()
    assert date(2019, 5, 5).weekday() == 6
    assert cal.is_working_day(date(2019, 5, 5))
    assert cal.upload_deadline("2019-04") == date(2019, 5, 5)
    assert cal.monthly_analysis_at("2019-04") == datetime(2019, 5, 6, 9, 0, tzinfo=CST)
    # Reminder: 2 working days before Sunday 05-05 (05-01..05-04 off) is 04-29, inside
    # April: it goes on the first working day after April, the make-up Sunday itself.
    assert cal.reminder_day("2019-04") == date(2019, 5, 5)


def test_a_deadline_on_an_office_make_up_sunday_stays_on_it() -> None:
    # Office override: Sunday 2026-07-05 declared a working day. Without it June's
    # deadline moves to Monday 07-06.
    assert WorkCalendar().upload_deadline("2026-06") == date(2026, 7, 6)
    cal = WorkCalendar(extra_workdays={date(2026, 7, 5)})
    assert cal.upload_deadline("2026-06") == date(2026, 7, 5)
    assert cal.monthly_analysis_at("2026-06") == datetime(2026, 7, 6, 9, 0, tzinfo=CST)


def test_an_office_holiday_moves_the_deadline() -> None:
    # 2026-03-05 is a Thursday; declared off, February's deadline becomes Friday 03-06.
    cal = WorkCalendar(extra_holidays={date(2026, 3, 5)})
    assert cal.upload_deadline("2026-02") == date(2026, 3, 6)


def test_a_make_up_saturday_counts_as_a_working_day() -> None:
    cal = WorkCalendar()
    assert date(2026, 10, 10).weekday() == 5
    assert cal.is_working_day(date(2026, 10, 10))
    assert not cal.is_working_day(date(2026, 10, 5))  # Monday in the holiday
    assert not cal.is_working_day(date(2026, 10, 11))  # ordinary Sunday


def test_a_2027_date_falls_back_to_monday_to_friday_with_a_warning() -> None:
    cal = WorkCalendar()
    with pytest.warns(CalendarFallbackWarning, match="2027"):
        assert cal.is_working_day(date(2027, 1, 4))  # Monday
    assert not cal.is_working_day(date(2027, 1, 9))  # Saturday
    assert [w.year for w in cal.warnings] == [2027]
    warning = cal.warnings[0]
    assert "2027年" in warning.message_zh
    assert "Monday-Friday" in warning.message_en


def test_the_fallback_warning_is_recorded_once_per_year() -> None:
    cal = WorkCalendar()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for day in range(1, 20):
            cal.is_working_day(date(2027, 3, day))
        cal.is_working_day(date(2028, 3, 1))
    assert [w.year for w in cal.warnings] == [2027, 2028]
    assert len([w for w in caught if issubclass(w.category, CalendarFallbackWarning)]) == 2


def test_overrides_still_apply_in_a_fallback_year() -> None:
    cal = WorkCalendar(extra_holidays={date(2027, 1, 1)}, extra_workdays={date(2027, 2, 6)})
    with pytest.warns(CalendarFallbackWarning):
        assert not cal.is_working_day(date(2027, 1, 1))  # Friday, office holiday
        assert cal.is_working_day(date(2027, 2, 6))  # Saturday, office working day
        assert cal.is_working_day(date(2027, 1, 5))  # Tuesday, fallback


def test_a_year_the_office_loaded_completely_raises_no_warning() -> None:
    cal = WorkCalendar(extra_holidays={date(2027, 1, 1)}, complete_years={2027})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not cal.is_working_day(date(2027, 1, 1))
        assert cal.is_working_day(date(2027, 1, 4))
    assert cal.warnings == ()


def test_december_2026_runs_fall_in_january_2027_under_the_fallback() -> None:
    cal = WorkCalendar()
    with pytest.warns(CalendarFallbackWarning):
        # 2027-01-05 is a Tuesday: the deadline stays; analysis on Wednesday 01-06.
        assert cal.upload_deadline("2026-12") == date(2027, 1, 5)
        assert cal.monthly_analysis_at("2026-12") == datetime(2027, 1, 6, 9, 0, tzinfo=CST)
        assert cal.annual_assessment_at("2026-12") == datetime(2027, 1, 6, 12, 0, tzinfo=CST)


@pytest.mark.parametrize(
    ("start", "n", "result"),
    [
        (date(2026, 9, 30), 1, date(2026, 10, 8)),  # over the National Day holiday
        (date(2026, 10, 8), 2, date(2026, 10, 10)),  # 10-09, then make-up Saturday 10-10
        (date(2026, 10, 8), -2, date(2026, 9, 29)),  # 09-30, 09-29
        (date(2026, 10, 3), 0, date(2026, 10, 3)),  # n = 0 returns the day itself
        (date(2026, 10, 3), -1, date(2026, 9, 30)),
    ],
)
def test_add_working_days_counts_only_working_days(start: date, n: int, result: date) -> None:
    assert WorkCalendar().add_working_days(start, n) == result


def test_working_days_between_counts_the_days_stepped_onto() -> None:
    cal = WorkCalendar()
    # Forwards (09-30, 10-10]: 10-08, 10-09, 10-10 → 3
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    # Backwards [09-30, 10-10): 09-30, 10-08, 10-09 → −3
    assert cal.working_days_between(date(2026, 10, 10), date(2026, 9, 30)) == -3
    # Backwards from holiday 10-03 to 09-30: [09-30, 10-03) holds only 09-30 → −1
    assert cal.working_days_between(date(2026, 10, 3), date(2026, 9, 30)) == -1
    assert cal.working_days_between(date(2026, 10, 1), date(2026, 10, 1)) == 0


def test_next_working_day_is_strictly_after_and_on_or_after_may_be_the_day() -> None:
    cal = WorkCalendar()
    assert cal.next_working_day(date(2026, 10, 8)) == date(2026, 10, 9)
    assert cal.working_day_on_or_after(date(2026, 10, 8)) == date(2026, 10, 8)
    assert cal.working_day_on_or_after(date(2026, 10, 1)) == date(2026, 10, 8)


def test_an_aware_datetime_is_read_as_its_shanghai_date() -> None:
    # 2026-10-07 17:00 UTC is 2026-10-08 01:00 in Shanghai: a working day.
    assert WorkCalendar().is_working_day(datetime(2026, 10, 7, 17, 0, tzinfo=UTC))


def test_the_2026_timetable_has_every_cycle_in_time_order() -> None:
    with pytest.warns(CalendarFallbackWarning):
        entries = WorkCalendar().year_timetable(2026, DEFAULT_RULES)
    # 12 reminders + 12 analyses + 4 quarterly + 2 half-year + 1 annual = 31
    assert len(entries) == 31
    assert [e.run_at for e in entries] == sorted(e.run_at for e in entries)
    september = [e for e in entries if e.month_key == "2026-09"]
    assert [(e.cycle, e.period_key, e.run_at.isoformat()) for e in september] == [
        (Cycle.PRE_DEADLINE_REMINDER, "2026-09", "2026-10-08T09:00:00+08:00"),
        (Cycle.MONTHLY_ANALYSIS, "2026-09", "2026-10-09T09:00:00+08:00"),
        (Cycle.QUARTERLY_MONITORING, "2026-Q3", "2026-10-09T10:00:00+08:00"),
    ]
    december = [(e.cycle.value, e.period_key) for e in entries if e.month_key == "2026-12"]
    assert december == [
        ("pre_deadline_reminder", "2026-12"),
        ("monthly_analysis", "2026-12"),
        ("quarterly_monitoring", "2026-Q4"),
        ("half_year_evaluation", "2026-H2"),
        ("annual_assessment", "2026"),
    ]
    assert all(e.run_at.year == 2027 for e in entries if e.month_key == "2026-12")
    assert entries[-1].run_at.isoformat() == "2027-01-06T12:00:00+08:00"


def test_run_times_follow_the_year_rules() -> None:
    rules = YearRules(monthly_analysis_time=time(8, 30), quarterly_monitoring_time=time(13, 0))
    cal = WorkCalendar()
    assert cal.monthly_analysis_at("2026-09", rules).isoformat() == "2026-10-09T08:30:00+08:00"
    assert cal.quarterly_monitoring_at("2026-09", rules).isoformat() == (
        "2026-10-09T13:00:00+08:00"
    )
    with pytest.raises(PeriodError):
        cal.half_year_evaluation_at("2026-09", rules)


@pytest.mark.parametrize(
    ("at", "sent"),
    [
        # Inside the window on a working day: now.
        (datetime(2026, 10, 9, 10, 30, tzinfo=CST), datetime(2026, 10, 9, 10, 30, tzinfo=CST)),
        # Before 09:00: same day at 09:00.
        (datetime(2026, 10, 9, 7, 0, tzinfo=CST), datetime(2026, 10, 9, 9, 0, tzinfo=CST)),
        # 18:00 is outside; the next working day is make-up Saturday 10-10.
        (datetime(2026, 10, 9, 18, 0, tzinfo=CST), datetime(2026, 10, 10, 9, 0, tzinfo=CST)),
        # During the holiday: the first working day after it.
        (datetime(2026, 10, 2, 11, 0, tzinfo=CST), datetime(2026, 10, 8, 9, 0, tzinfo=CST)),
    ],
)
def test_messages_wait_for_the_next_working_hours_window(at: datetime, sent: datetime) -> None:
    assert WorkCalendar().message_send_time(at) == sent


def test_overrides_load_from_a_yaml_style_mapping() -> None:
    overrides = overrides_from_mapping(
        {
            "holidays": [date(2027, 1, 1), "2027-02-11"],
            "workdays": ["2027-02-06"],
            "complete_years": None,
        }
    )
    assert overrides.holidays == frozenset({date(2027, 1, 1), date(2027, 2, 11)})
    assert overrides.workdays == frozenset({date(2027, 2, 6)})
    assert overrides.complete_years == frozenset()
    assert overrides_from_mapping(None).holidays == frozenset()
    cal = WorkCalendar.from_overrides(overrides)
    assert cal.extra_workdays == frozenset({date(2027, 2, 6)})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"holiday": []}, "unknown calendar-override key"),
        ({"holidays": ["2027-01-01", "2027-13-01"]}, r"holidays\[1\]"),
        ({"workdays": "2027-02-06"}, "workdays must be a list"),
        ({"workdays": [datetime(2027, 2, 6, 9, 0)]}, r"workdays\[0\] must be a date"),
        ({"holidays": ["2027-01-01"], "workdays": ["2027-01-01"]}, "both"),
        ({"complete_years": ["2027"]}, r"complete_years\[0\]"),
        (["2027-01-01"], "must be a mapping"),
    ],
)
def test_malformed_overrides_are_refused_clearly(data: object, message: str) -> None:
    with pytest.raises(CalendarOverrideError, match=message):
        overrides_from_mapping(data)  # type: ignore[arg-type]
