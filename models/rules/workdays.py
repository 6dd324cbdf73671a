"""Working days (official national calendar + office overrides) and the cycle timetable.

`WorkCalendar` answers "is this a working day" from the `chinese_calendar` package,
which includes make-up working days (调休). A year the package does not cover
falls back to Monday–Friday less the statutory holidays computed for it (元旦, 春节,
清明, 劳动节, 端午, 中秋, 国庆 and their make-up days off: `statutory_holidays`) and
records a `CalendarWarning` (also sent through `warnings.warn`) until the office
loads that year's dates as overrides, which win over the computed holidays.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar
import pendulum

from .periods import (
    SHANGHAI,
    Cycle,
    Period,
    PeriodError,
    as_month,
    assessed_period,
    to_shanghai,
)
from .statutory_holidays import compute_statutory_holidays
from .yearrules import DEFAULT_RULES, YearRules

__all__ = [
    "CalendarFallbackWarning",
    "CalendarOverrideError",
    "CalendarOverrides",
    "CalendarWarning",
    "TimetableEntry",
    "WorkCalendar",
    "cycle_month_for_run",
    "deadline_cutoff",
    "overrides_from_mapping",
    "period_for_run",
]

_ONE_DAY = timedelta(days=1)


class CalendarFallbackWarning(UserWarning):
    """Category used with `warnings.warn` when a year falls back to Monday–Friday less the
    computed statutory holidays."""


class CalendarOverrideError(ValueError):
    """The office's calendar overrides are malformed; the message names the bad key/entry."""


@dataclass(frozen=True)
class CalendarWarning:
    """A year the national calendar does not cover; working days are Monday–Friday less the
    computed statutory holidays (without the State Council's bridging arrangement)."""

    year: int
    message_zh: str
    message_en: str

    @property
    def message(self) -> str:
        return f"{self.message_zh} / {self.message_en}"

    @classmethod
    def for_year(cls, year: int) -> CalendarWarning:
        return cls(
            year=year,
            message_zh=(
                f"{year}年的法定节假日安排尚未收录，暂按周一至周五扣除推算的法定节假日"
                "（元旦、春节、清明、劳动节、端午、中秋、国庆及补休）为工作日计算，"
                "请考核办录入该年度国务院公布的节假日和调休日期。"
            ),
            message_en=(
                f"The national holiday calendar does not cover {year}; working days fall "
                "back to Monday-Friday less the computed statutory holidays (no bridging "
                "days) until the office loads that year's dates."
            ),
        )


@dataclass(frozen=True)
class CalendarOverrides:
    """The office's own dates on top of the national calendar.

    `holidays` are days off even if the national calendar says otherwise, `workdays`
    are working days even on a weekend or holiday. `complete_years` are years not
    covered by the package whose full set of dates the office has loaded: their
    fallback (Monday–Friday less the computed statutory holidays, plus these
    overrides) is then authoritative and raises no warning.
    """

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    complete_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise CalendarOverrideError(
                "a date cannot be both an extra holiday and an extra working day: "
                + ", ".join(d.isoformat() for d in both)
            )


_OVERRIDE_KEYS = ("holidays", "workdays", "complete_years")


def overrides_from_mapping(data: Mapping[str, object] | None) -> CalendarOverrides:
    """Read a YAML-style mapping `{holidays: [...], workdays: [...], complete_years: [...]}`.

    Dates may be `datetime.date` objects (as YAML loads them) or "YYYY-MM-DD"
    strings; an empty or absent key means no dates. Unknown keys are refused.
    """
    if data is None:
        return CalendarOverrides()
    if not isinstance(data, Mapping):
        raise CalendarOverrideError(
            f"calendar overrides must be a mapping with keys {', '.join(_OVERRIDE_KEYS)}, "
            f"got {type(data).__name__}"
        )
    unknown = sorted(str(k) for k in data if k not in _OVERRIDE_KEYS)
    if unknown:
        raise CalendarOverrideError(
            f"unknown calendar-override key(s): {', '.join(unknown)}; "
            f"expected {', '.join(_OVERRIDE_KEYS)}"
        )
    holidays = _dates(data, "holidays")
    workdays = _dates(data, "workdays")
    years: set[int] = set()
    for i, item in enumerate(_items(data, "complete_years")):
        if isinstance(item, bool) or not isinstance(item, int):
            raise CalendarOverrideError(f"complete_years[{i}] must be a year number, got {item!r}")
        years.add(item)
    return CalendarOverrides(frozenset(holidays), frozenset(workdays), frozenset(years))


def _items(data: Mapping[str, object], key: str) -> list[object]:
    raw = data.get(key)
    if raw is None:
        return []
    if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
        raise CalendarOverrideError(f"{key} must be a list, got {type(raw).__name__} {raw!r}")
    return list(raw)


def _dates(data: Mapping[str, object], key: str) -> set[date]:
    out: set[date] = set()
    for i, item in enumerate(_items(data, key)):
        if isinstance(item, datetime):
            raise CalendarOverrideError(f"{key}[{i}] must be a date, not a date-time: {item!r}")
        if isinstance(item, date):
            out.add(item)
            continue
        if isinstance(item, str):
            try:
                out.add(date.fromisoformat(item.strip()))
                continue
            except ValueError:
                pass
        raise CalendarOverrideError(
            f"{key}[{i}] must be a date written as YYYY-MM-DD (e.g. 2027-01-01), got {item!r}"
        )
    return out


@dataclass(frozen=True)
class TimetableEntry:
    """One scheduled run: `period_key` is what the cycle assesses, `month_key` the month."""

    cycle: Cycle
    period_key: str
    month_key: str
    run_at: pendulum.DateTime


class WorkCalendar:
    """Working days per the national calendar (调休 included) plus office overrides.

    Overrides win over the national calendar and also apply in fallback years.
    Methods take `datetime.date`; an aware datetime is first converted to its
    Asia/Shanghai date. The calendar is safe to share between threads.
    """

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        complete_years: Iterable[int] = (),
    ) -> None:
        self.overrides = CalendarOverrides(
            frozenset(extra_holidays), frozenset(extra_workdays), frozenset(complete_years)
        )
        self._covered: dict[int, bool] = {}
        self._statutory: dict[int, frozenset[date]] = {}
        self._warnings: dict[int, CalendarWarning] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_overrides(cls, overrides: CalendarOverrides) -> WorkCalendar:
        return cls(overrides.holidays, overrides.workdays, overrides.complete_years)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object] | None) -> WorkCalendar:
        return cls.from_overrides(overrides_from_mapping(data))

    @property
    def extra_holidays(self) -> frozenset[date]:
        return self.overrides.holidays

    @property
    def extra_workdays(self) -> frozenset[date]:
        return self.overrides.workdays

    @property
    def warnings(self) -> tuple[CalendarWarning, ...]:
        """One warning per year that fell back to the computed calendar, in year order."""
        with self._lock:
            return tuple(self._warnings[y] for y in sorted(self._warnings))

    def covers(self, year: int) -> bool:
        """Whether the national calendar package has data for `year`."""
        with self._lock:
            known = self._covered.get(year)
        if known is not None:
            return known
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
            covered = True
        except NotImplementedError:
            covered = False
        with self._lock:
            self._covered[year] = covered
        return covered

    def fallback_holidays(self, year: int) -> frozenset[date]:
        """The computed statutory days off of `year` (used only where the package has no data)."""
        with self._lock:
            known = self._statutory.get(year)
        if known is not None:
            return known
        days = frozenset(compute_statutory_holidays(year))
        with self._lock:
            self._statutory[year] = days
        return days

    def _fallback(self, year: int) -> None:
        if year in self.overrides.complete_years:
            return
        with self._lock:
            if year in self._warnings:
                return
            warning = CalendarWarning.for_year(year)
            self._warnings[year] = warning
        warnings.warn(CalendarFallbackWarning(warning.message), stacklevel=4)

    # Working days -------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        d = _as_date(day)
        if d in self.overrides.holidays:
            return False
        if d in self.overrides.workdays:
            return True
        if self.covers(d.year):
            return bool(chinese_calendar.is_workday(d))
        self._fallback(d.year)
        return d.weekday() < 5 and d not in self.fallback_holidays(d.year)

    def working_day_on_or_after(self, day: date) -> date:
        d = _as_date(day)
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        return self.working_day_on_or_after(_as_date(day) + _ONE_DAY)

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before `day`."""
        d = _as_date(day) - _ONE_DAY
        while not self.is_working_day(d):
            d -= _ONE_DAY
        return d

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n > 0) or before it (n < 0); `day` when n == 0.

        `day` itself is never counted, so it need not be a working day.
        """
        d = _as_date(day)
        for _ in range(abs(n)):
            d = self.next_working_day(d) if n > 0 else self.previous_working_day(d)
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days stepped onto walking from `start` to `end`, `start` itself excluded.

        Forwards (end > start) counts working days in (start, end]; backwards it counts
        those in [end, start), negated. So `working_days_between(d, add_working_days(d, n))
        == n` for every n.
        """
        a, b = _as_date(start), _as_date(end)
        if b >= a:
            first, last, sign = a + _ONE_DAY, b, 1
        else:
            first, last, sign = b, a - _ONE_DAY, -1
        count = 0
        d = first
        while d <= last:
            if self.is_working_day(d):
                count += 1
            d += _ONE_DAY
        return sign * count

    # Timetable ------------------------------------------------------------------------

    def upload_deadline(self, month: Period | str, rules: YearRules = DEFAULT_RULES) -> date:
        """Deadline for month m's values: the 5th of m+1, or the next working day after it.

        A 5th that is a working day (a make-up Saturday/Sunday, 调休, included) stays.
        """
        following = as_month(month).next()
        return self.working_day_on_or_after(
            date(following.year, following.index, rules.upload_deadline_day)
        )

    def upload_cutoff(self, month: Period | str, rules: YearRules = DEFAULT_RULES) -> datetime:
        """The last instant of month m's upload deadline day (Asia/Shanghai, aware).

        A value counts as uploaded on time when it was updated at or before this instant;
        the monthly analysis and the appeals' value lookups read the platform as of it.
        """
        deadline = self.upload_deadline(month, rules)
        start = datetime.combine(deadline, time(0), tzinfo=SHANGHAI)
        return start + _ONE_DAY - timedelta(microseconds=1)

    def reminder_day(self, month: Period | str, rules: YearRules = DEFAULT_RULES) -> date:
        """Pre-deadline reminder day: 2 working days before the upload deadline, but never
        before the month has ended: when that day falls inside the month, the first working
        day after it (which may be the deadline itself: September 2026's is 8 October)."""
        the_month = as_month(month)
        before = self.add_working_days(
            self.upload_deadline(the_month, rules), -rules.reminder_working_days_before_deadline
        )
        return max(before, self.working_day_on_or_after(the_month.next().first_day))

    def monthly_analysis_day(self, month: Period | str, rules: YearRules = DEFAULT_RULES) -> date:
        """The first working day after the upload deadline."""
        return self.next_working_day(self.upload_deadline(month, rules))

    def monthly_analysis_at(
        self, month: Period | str, rules: YearRules = DEFAULT_RULES
    ) -> pendulum.DateTime:
        return _at(self.monthly_analysis_day(month, rules), rules.monthly_analysis_time)

    def quarterly_monitoring_at(
        self, month: Period | str, rules: YearRules = DEFAULT_RULES
    ) -> pendulum.DateTime:
        return self.cycle_run_at(Cycle.QUARTERLY_MONITORING, month, rules)

    def half_year_evaluation_at(
        self, month: Period | str, rules: YearRules = DEFAULT_RULES
    ) -> pendulum.DateTime:
        return self.cycle_run_at(Cycle.HALF_YEAR_EVALUATION, month, rules)

    def annual_assessment_at(
        self, month: Period | str, rules: YearRules = DEFAULT_RULES
    ) -> pendulum.DateTime:
        return self.cycle_run_at(Cycle.ANNUAL_ASSESSMENT, month, rules)

    def cycle_run_at(
        self, cycle: Cycle | str, month: Period | str, rules: YearRules = DEFAULT_RULES
    ) -> pendulum.DateTime:
        """When `cycle` runs for `month` (Asia/Shanghai).

        The reminder runs on the reminder day; every other cycle runs on the month's
        monthly-analysis day, at its own time so that it follows the cycle below it.
        Raises `PeriodError` when the cycle does not run for that month.
        """
        the_cycle = Cycle(cycle)
        the_month = as_month(month)
        assessed_period(the_cycle, the_month)  # validates the month for the cycle
        if the_cycle is Cycle.PRE_DEADLINE_REMINDER:
            return _at(self.reminder_day(the_month, rules), rules.pre_deadline_reminder_time)
        run_time = {
            Cycle.MONTHLY_ANALYSIS: rules.monthly_analysis_time,
            Cycle.QUARTERLY_MONITORING: rules.quarterly_monitoring_time,
            Cycle.HALF_YEAR_EVALUATION: rules.half_year_evaluation_time,
            Cycle.ANNUAL_ASSESSMENT: rules.annual_assessment_time,
        }[the_cycle]
        return _at(self.monthly_analysis_day(the_month, rules), run_time)

    def year_timetable(self, year: int, rules: YearRules = DEFAULT_RULES) -> list[TimetableEntry]:
        """Every scheduled run for the months of `year`, sorted by time.

        December's runs fall in January of the following year.
        """
        entries: list[TimetableEntry] = []
        for month in Period.whole_year(year).months():
            for cycle in Cycle:
                if month.index not in cycle.months:
                    continue
                entries.append(
                    TimetableEntry(
                        cycle=cycle,
                        period_key=assessed_period(cycle, month).key,
                        month_key=month.key,
                        run_at=self.cycle_run_at(cycle, month, rules),
                    )
                )
        order = list(Cycle)
        entries.sort(key=lambda e: (e.run_at, e.month_key, order.index(e.cycle)))
        return entries

    def message_send_time(
        self, at: datetime, rules: YearRules = DEFAULT_RULES
    ) -> pendulum.DateTime:
        """When a message due at `at` may go out: `at` itself inside the window
        (working day, 09:00 <= time < 18:00 Asia/Shanghai), else the next window's start."""
        local = to_shanghai(at)
        day = local.date()
        if self.is_working_day(day):
            if local.time() < rules.message_window_start:
                return _at(day, rules.message_window_start)
            if local.time() < rules.message_window_end:
                return local
        return _at(self.next_working_day(day), rules.message_window_start)

    def in_message_window(self, at: datetime, rules: YearRules = DEFAULT_RULES) -> bool:
        """Whether a message may go out at `at`: a working day, inside the year's window."""
        return self.message_send_time(at, rules) == at


def _at(day: date, at: time) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day, at.hour, at.minute, tz=SHANGHAI)


def _as_date(value: date) -> date:
    if isinstance(value, datetime):
        local = to_shanghai(value)
        return date(local.year, local.month, local.day)
    if not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__} {value!r}")
    return value


def deadline_cutoff(month: Period, calendar: WorkCalendar, rules: YearRules) -> datetime:
    """The end of month m's upload deadline day: `WorkCalendar.upload_cutoff`."""
    return calendar.upload_cutoff(month, rules)


def cycle_month_for_run(
    when: datetime,
    calendar: WorkCalendar,
    cycle: Cycle | str = Cycle.MONTHLY_ANALYSIS,
    rules: YearRules = DEFAULT_RULES,
) -> Period:
    """The month a scheduled run of `cycle` at `when` belongs to.

    A run belongs to the month whose cycle day (for the analysis-based cycles: the
    monthly-analysis day; for the reminder: the reminder day) is the Asia/Shanghai
    date of `when`. A run on any other day (a late or manual run) belongs to the most
    recent such month whose cycle day is at or before that date, so a retried run
    still assesses the month it was scheduled for rather than a month whose values
    are not due yet. Only months the cycle runs for are candidates: a quarterly run
    on 2026-11-10 belongs to 2026-09. The time of day is ignored.
    """
    the_cycle = Cycle(cycle)
    today = to_shanghai(when).date()
    candidate = Period.month(today.year, today.month)
    # A cycle day of month m never precedes the start of month m, so at most a few
    # dozen steps back are needed; the bound only guards against a broken calendar.
    for _ in range(36):
        if candidate.index in the_cycle.months:
            day = calendar.cycle_run_at(the_cycle, candidate, rules).date()
            if day <= today:
                return candidate
        candidate = candidate.previous()
    raise PeriodError(f"no {the_cycle.value} run found at or before {today.isoformat()}")


def period_for_run(
    when: datetime,
    calendar: WorkCalendar,
    cycle: Cycle | str,
    rules: YearRules = DEFAULT_RULES,
) -> Period:
    """The period a run of `cycle` at `when` assesses (e.g. a quarterly run on 2026-10-09 → Q3)."""
    return assessed_period(cycle, cycle_month_for_run(when, calendar, cycle, rules))
