from datetime import UTC, datetime, timedelta, timezone

import pytest

from models.rules import (
    Cycle,
    Period,
    PeriodError,
    PeriodKind,
    WorkCalendar,
    assessed_period,
    cycle_month_for_run,
    parse_period,
    period_containing,
    period_for_run,
    period_range,
)

CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("key", "kind", "year", "index"),
    [
        ("2026-03", PeriodKind.MONTH, 2026, 3),
        ("2026-12", PeriodKind.MONTH, 2026, 12),
        ("2026-Q1", PeriodKind.QUARTER, 2026, 1),
        ("2026-H2", PeriodKind.HALF, 2026, 2),
        ("2026", PeriodKind.YEAR, 2026, 1),
    ],
)
def test_period_keys_parse_and_print_back_exactly(
    key: str, kind: PeriodKind, year: int, index: int
) -> None:
    period = parse_period(key)
    assert (period.kind, period.year, period.index) == (kind, year, index)
    assert period.key == key
    assert str(period) == key


@pytest.mark.parametrize(
    "bad", ["2026-13", "2026-00", "2026-3", "2026-Q5", "2026-q1", "2026-H3", "26-01", "", "2026-"]
)
def test_a_bad_period_key_is_refused_quoting_it_and_saying_what_is_expected(bad: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(bad)
    assert repr(bad) in str(caught.value)
    assert "expected 'YYYY-MM'" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("key", "months"),
    [
        ("2026-03", ["2026-03"]),
        ("2026-Q3", ["2026-07", "2026-08", "2026-09"]),
        ("2026-H2", ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]),
        ("2026", [f"2026-{m:02d}" for m in range(1, 13)]),
    ],
)
def test_a_period_lists_its_months(key: str, months: list[str]) -> None:
    assert [m.key for m in parse_period(key).months()] == months


def test_start_and_end_are_shanghai_midnights_with_an_exclusive_end() -> None:
    march = parse_period("2026-03")
    assert march.start == datetime(2026, 3, 1, tzinfo=CST)
    assert march.start.utcoffset() == timedelta(hours=8)
    assert march.end == datetime(2026, 4, 1, tzinfo=CST)
    assert parse_period("2026-Q4").end == datetime(2027, 1, 1, tzinfo=CST)
    assert parse_period("2026-02").last_day.isoformat() == "2026-02-28"


@pytest.mark.parametrize(
    ("key", "nxt", "prev"),
    [
        ("2026-12", "2027-01", "2026-11"),
        ("2026-01", "2026-02", "2025-12"),
        ("2026-Q1", "2026-Q2", "2025-Q4"),
        ("2026-H2", "2027-H1", "2026-H1"),
        ("2026", "2027", "2025"),
    ],
)
def test_next_and_previous_cross_year_boundaries(key: str, nxt: str, prev: str) -> None:
    assert parse_period(key).next().key == nxt
    assert parse_period(key).previous().key == prev


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("2026", "2026-Q3", True),
        ("2026-Q3", "2026-08", True),
        ("2026-Q3", "2026-10", False),
        ("2026-H1", "2025-03", False),
        ("2026-H1", "2026-Q2", True),
        ("2026-Q2", "2026-H1", False),
        ("2026-03", "2026-03", True),
    ],
)
def test_contains_means_every_month_of_the_other_is_inside(
    outer: str, inner: str, expected: bool
) -> None:
    assert parse_period(outer).contains(parse_period(inner)) is expected


def test_periods_sort_chronologically_shorter_first() -> None:
    keys = ["2026-02", "2026", "2026-H1", "2025-12", "2026-Q1", "2026-01"]
    assert [p.key for p in sorted(map(parse_period, keys))] == [
        "2025-12",
        "2026-01",
        "2026-Q1",
        "2026-H1",
        "2026",
        "2026-02",
    ]


def test_period_range_is_inclusive_and_crosses_years() -> None:
    assert [p.key for p in period_range("2026-11", "2027-02")] == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    assert [p.key for p in period_range("2026-Q3", "2026-Q3")] == ["2026-Q3"]
    assert period_range("2026-05", "2026-04") == []
    with pytest.raises(PeriodError, match="same kind"):
        period_range("2026-01", "2026-Q2")


def test_period_containing_converts_to_shanghai_first() -> None:
    # 2026-03-31 17:00 UTC is 2026-04-01 01:00 in Shanghai.
    when = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)
    assert period_containing(PeriodKind.MONTH, when).key == "2026-04"
    assert period_containing("quarter", when).key == "2026-Q2"
    assert period_containing("half", when).key == "2026-H1"
    assert period_containing("year", datetime(2026, 12, 31, 16, 0, tzinfo=UTC)).key == "2027"


def test_period_containing_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        period_containing("month", datetime(2026, 3, 1))


def test_a_period_rejects_an_out_of_range_index() -> None:
    with pytest.raises(PeriodError):
        Period(PeriodKind.QUARTER, 2026, 5)
    with pytest.raises(PeriodError):
        Period.month(2026, 0)


@pytest.mark.parametrize(
    ("cycle", "month", "period"),
    [
        (Cycle.MONTHLY_ANALYSIS, "2026-09", "2026-09"),
        (Cycle.PRE_DEADLINE_REMINDER, "2026-09", "2026-09"),
        (Cycle.QUARTERLY_MONITORING, "2026-09", "2026-Q3"),
        (Cycle.HALF_YEAR_EVALUATION, "2026-12", "2026-H2"),
        (Cycle.ANNUAL_ASSESSMENT, "2026-12", "2026"),
    ],
)
def test_each_cycle_assesses_the_period_ending_with_its_month(
    cycle: Cycle, month: str, period: str
) -> None:
    assert assessed_period(cycle, month).key == period


def test_a_cycle_does_not_run_for_other_months() -> None:
    with pytest.raises(PeriodError, match="quarterly_monitoring does not run for month 2026-08"):
        assessed_period("quarterly_monitoring", "2026-08")


CAL = WorkCalendar()


@pytest.mark.parametrize(
    ("when", "cycle", "month"),
    [
        # September's monthly analysis day is 2026-10-09 (deadline 10-08).
        (datetime(2026, 10, 9, 9, 0, tzinfo=CST), Cycle.MONTHLY_ANALYSIS, "2026-09"),
        # 2026-10-09 01:00 UTC is 09:00 in Shanghai: same day.
        (datetime(2026, 10, 9, 1, 0, tzinfo=UTC), Cycle.MONTHLY_ANALYSIS, "2026-09"),
        # 2026-10-08 16:30 UTC is already 10-09 00:30 in Shanghai.
        (datetime(2026, 10, 8, 16, 30, tzinfo=UTC), Cycle.MONTHLY_ANALYSIS, "2026-09"),
        # 2026-10-08 in Shanghai: September's day is not reached; August's was 2026-09-08.
        (datetime(2026, 10, 8, 23, 30, tzinfo=CST), Cycle.MONTHLY_ANALYSIS, "2026-08"),
        # A late quarterly run in November still belongs to September (Q3).
        (datetime(2026, 11, 10, 10, 0, tzinfo=CST), Cycle.QUARTERLY_MONITORING, "2026-09"),
        # September's reminder waits for the month's end: 10-08 (not 09-29).
        (datetime(2026, 10, 8, 9, 0, tzinfo=CST), Cycle.PRE_DEADLINE_REMINDER, "2026-09"),
        (datetime(2026, 9, 29, 9, 0, tzinfo=CST), Cycle.PRE_DEADLINE_REMINDER, "2026-08"),
    ],
)
def test_a_run_belongs_to_the_month_whose_cycle_day_it_falls_on_or_follows(
    when: datetime, cycle: Cycle, month: str
) -> None:
    assert cycle_month_for_run(when, CAL, cycle).key == month


def test_a_late_quarterly_run_assesses_the_last_quarter() -> None:
    when = datetime(2026, 11, 10, 10, 0, tzinfo=CST)
    assert period_for_run(when, CAL, "quarterly_monitoring").key == "2026-Q3"
