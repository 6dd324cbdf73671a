"""The computed statutory holidays: the working-day fallback for a year the package lacks."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import chinese_calendar
import pytest

from models.rules import CalendarFallbackWarning, WorkCalendar
from models.rules.statutory_holidays import (
    compute_statutory_holidays,
    lunar_to_solar,
    qingming_day,
    spring_festival_days,
)

#: The years the package covers with the holiday set of today's regulation (清明, 端午 and
#: 中秋 became public holidays in 2008).
COVERED_YEARS = [y for y in range(2008, 2100) if WorkCalendar().covers(y)]


def test_the_package_covers_the_years_compared_against_and_not_2027() -> None:
    assert 2026 in COVERED_YEARS and 2008 in COVERED_YEARS
    assert not WorkCalendar().covers(2027)


def test_new_years_day_2027_and_the_computed_spring_festival_are_holidays_in_the_fallback() -> None:
    new_year = lunar_to_solar(2027, 1, 1)  # the lunar calendar: 6 February 2027
    assert new_year == date(2027, 2, 6)
    festival = spring_festival_days(2027)
    assert festival == tuple(new_year + timedelta(days=n) for n in (-1, 0, 1, 2))
    cal = WorkCalendar()
    with pytest.warns(CalendarFallbackWarning, match="2027"):
        assert not cal.is_working_day(date(2027, 1, 1))  # a Friday
    for day in festival:
        assert not cal.is_working_day(day), day
    # The eve is a Friday, the 1st and 2nd a weekend: both are made up on Tuesday and
    # Wednesday after the 3rd (Monday), so work resumes on Thursday 11 February.
    assert not cal.is_working_day(date(2027, 2, 9))
    assert not cal.is_working_day(date(2027, 2, 10))
    assert cal.next_working_day(date(2027, 2, 4)) == date(2027, 2, 11)
    assert [w.year for w in cal.warnings] == [2027]


def test_each_statutory_holiday_of_2027_is_named() -> None:
    holidays = compute_statutory_holidays(2027)
    assert holidays[date(2027, 1, 1)] == "元旦"
    assert holidays[date(2027, 2, 5)] == "春节"
    assert holidays[date(2027, 2, 9)] == "春节（补休）"
    assert holidays[qingming_day(2027)] == "清明节"
    assert holidays[lunar_to_solar(2027, 5, 5)] == "端午节"
    assert holidays[lunar_to_solar(2027, 8, 15)] == "中秋节"
    assert [holidays[date(2027, 10, d)] for d in (1, 2, 3)] == ["国庆节"] * 3


@pytest.mark.parametrize(
    ("year", "day"),
    [(2008, 4), (2015, 5), (2019, 5), (2020, 4), (2024, 4), (2026, 5), (2027, 5), (2028, 4)],
)
def test_qingming_is_the_published_solar_term_day_of_known_years(year: int, day: int) -> None:
    assert qingming_day(year) == date(year, 4, day)


def test_qingming_agrees_with_the_packages_solar_terms_for_the_whole_century() -> None:
    for year in range(2000, 2100):
        terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
        assert [d for d, name in terms if name == "清明"] == [qingming_day(year)], year


def test_where_the_package_covers_a_year_the_fallback_agrees_on_each_holidays_first_day() -> None:
    holiday = chinese_calendar.Holiday
    for year in COVERED_YEARS:
        first_days = {
            holiday.new_years_day: date(year, 1, 1),
            holiday.tomb_sweeping_day: qingming_day(year),
            holiday.labour_day: date(year, 5, 1),
            holiday.dragon_boat_festival: lunar_to_solar(year, 5, 5),
            holiday.mid_autumn_festival: lunar_to_solar(year, 8, 15),
            holiday.national_day: date(year, 10, 1),
        }
        computed = compute_statutory_holidays(year)
        for name, day in first_days.items():
            assert day in computed, (year, name)
            is_holiday, detail = chinese_calendar.get_holiday_detail(day)
            assert is_holiday, (year, name, day)
            # 中秋 on 1 October (2020) is listed by the package as National Day; a holiday
            # on a weekend may carry no name there (端午 on Saturday 2012-06-23).
            names = {n.value for n, d in first_days.items() if d == day}
            assert detail in names or (detail is None and day.weekday() >= 5), (year, name)


def test_where_the_package_covers_a_year_the_spring_festival_days_are_holidays() -> None:
    for year in COVERED_YEARS:
        eve, *first_three = spring_festival_days(year)
        for day in first_three:
            assert chinese_calendar.is_holiday(day), (year, day)
        if year >= 2025:  # the eve is a statutory holiday again since the 2024 amendment
            assert chinese_calendar.is_holiday(eve), (year, eve)


def test_a_holiday_on_a_weekend_or_on_another_holiday_is_made_up_on_a_free_weekday() -> None:
    holidays = compute_statutory_holidays(2028)
    # 1 January 2028 is a Saturday: made up on Monday the 3rd.
    assert holidays[date(2028, 1, 3)] == "元旦（补休）"
    # 1 October is a Sunday and 中秋 falls on the 3rd: two days made up, the 4th and 5th.
    assert holidays[date(2028, 10, 3)] == "中秋节、国庆节"
    assert holidays[date(2028, 10, 4)] == holidays[date(2028, 10, 5)] == "国庆节（补休）"
    assert date(2028, 10, 6) not in holidays


def test_the_offices_overrides_win_over_a_computed_holiday() -> None:
    cal = WorkCalendar(extra_workdays={date(2027, 2, 10)}, extra_holidays={date(2027, 2, 11)})
    with pytest.warns(CalendarFallbackWarning):
        assert cal.is_working_day(date(2027, 2, 10))  # a computed make-up day off
        assert not cal.is_working_day(date(2027, 2, 11))
        assert not cal.is_working_day(date(2027, 2, 9))  # computed, not overridden


def test_a_year_the_office_loaded_completely_keeps_the_computed_holidays_silently() -> None:
    cal = WorkCalendar(complete_years={2027})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not cal.is_working_day(date(2027, 1, 1))
        assert cal.is_working_day(date(2027, 1, 4))
    assert cal.warnings == ()


def test_outside_the_computable_century_only_the_fixed_date_holidays_remain() -> None:
    assert set(compute_statutory_holidays(2100)) >= {date(2100, 1, 1), date(2100, 10, 1)}
    assert all(
        name.startswith(("元旦", "劳动节", "国庆节"))
        for name in compute_statutory_holidays(2100).values()
    )
    with pytest.raises(ValueError, match="2100"):
        qingming_day(2100)
