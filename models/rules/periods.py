"""Assessment periods (month, quarter, half-year, year) and the cycles that assess them.

Keys are exactly `2026-03` (month), `2026-Q1` (quarter), `2026-H1` (half-year) and
`2026` (year). All instants are in Asia/Shanghai.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import total_ordering

import pendulum

__all__ = [
    "SHANGHAI",
    "Cycle",
    "Period",
    "PeriodError",
    "PeriodKind",
    "as_month",
    "as_period",
    "assessed_period",
    "cycles_below",
    "parse_period",
    "period_containing",
    "period_range",
    "to_shanghai",
]

SHANGHAI = pendulum.timezone("Asia/Shanghai")

_EXPECTED = (
    "expected 'YYYY-MM' (month, e.g. 2026-03), 'YYYY-Qn' (quarter, e.g. 2026-Q1), "
    "'YYYY-Hn' (half-year, e.g. 2026-H1) or 'YYYY' (year, e.g. 2026)"
)
_KEY_RE = re.compile(r"^(\d{4})(?:-(\d{2})|-Q(\d)|-H(\d))?$")


class PeriodError(ValueError):
    """A period key or period argument is invalid."""


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"

    @property
    def months_per_period(self) -> int:
        return _MONTHS_PER[self]

    @property
    def periods_per_year(self) -> int:
        return 12 // _MONTHS_PER[self]


_MONTHS_PER = {
    PeriodKind.MONTH: 1,
    PeriodKind.QUARTER: 3,
    PeriodKind.HALF: 6,
    PeriodKind.YEAR: 12,
}


@total_ordering
@dataclass(frozen=True)
class Period:
    """A month, quarter, half-year or year.

    `index` is the month (1–12), quarter (1–4) or half (1–2) within the year; 1 for a
    year. Periods order chronologically by their first month; a period that starts
    together with a longer one sorts first (2026-01 < 2026-Q1 < 2026-H1 < 2026 < 2026-02).
    """

    kind: PeriodKind
    year: int
    index: int = 1

    def __post_init__(self) -> None:
        try:
            kind = PeriodKind(self.kind)
        except ValueError:
            raise PeriodError(
                f"unknown period kind {self.kind!r}; expected one of "
                f"{', '.join(k.value for k in PeriodKind)}"
            ) from None
        object.__setattr__(self, "kind", kind)
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise PeriodError(f"period year must be an integer, got {self.year!r}")
        if not 1000 <= self.year <= 9998:
            raise PeriodError(f"period year must have four digits, got {self.year!r}")
        count = kind.periods_per_year
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise PeriodError(f"period index must be an integer, got {self.index!r}")
        if not 1 <= self.index <= count:
            raise PeriodError(f"a {kind.value} index must be from 1 to {count}, got {self.index}")

    # Constructors -----------------------------------------------------------------

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(PeriodKind.MONTH, year, month)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        return cls(PeriodKind.QUARTER, year, quarter)

    @classmethod
    def half(cls, year: int, half: int) -> Period:
        return cls(PeriodKind.HALF, year, half)

    @classmethod
    def whole_year(cls, year: int) -> Period:
        return cls(PeriodKind.YEAR, year, 1)

    @classmethod
    def parse(cls, key: str) -> Period:
        return parse_period(key)

    # Views ------------------------------------------------------------------------

    @property
    def key(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year:04d}-{self.index:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year:04d}-Q{self.index}"
        if self.kind is PeriodKind.HALF:
            return f"{self.year:04d}-H{self.index}"
        return f"{self.year:04d}"

    def __str__(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"Period({self.key!r})"

    @property
    def first_month(self) -> int:
        """Month number (1–12) of the period's first month."""
        return (self.index - 1) * self.kind.months_per_period + 1

    @property
    def last_month(self) -> int:
        """Month number (1–12) of the period's last month."""
        return self.index * self.kind.months_per_period

    def months(self) -> list[Period]:
        """The month periods this period is made of, in order."""
        return [Period.month(self.year, m) for m in range(self.first_month, self.last_month + 1)]

    @property
    def first_day(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    @property
    def start(self) -> pendulum.DateTime:
        """First instant of the period (00:00 Asia/Shanghai on its first day)."""
        return pendulum.datetime(self.year, self.first_month, 1, tz=SHANGHAI)

    @property
    def end(self) -> pendulum.DateTime:
        """End of the period, exclusive: the start of the next period of the same kind.

        An instant t is inside the period when `start <= t < end`.
        """
        return self.next().start

    def next(self) -> Period:
        """The following period of the same kind."""
        if self.index < self.kind.periods_per_year:
            return Period(self.kind, self.year, self.index + 1)
        return Period(self.kind, self.year + 1, 1)

    def previous(self) -> Period:
        """The preceding period of the same kind."""
        if self.index > 1:
            return Period(self.kind, self.year, self.index - 1)
        return Period(self.kind, self.year - 1, self.kind.periods_per_year)

    def contains(self, other: Period) -> bool:
        """Whether every month of `other` lies inside this period (a period contains itself)."""
        return (
            self.year == other.year
            and self.first_month <= other.first_month
            and other.last_month <= self.last_month
        )

    def _sort_key(self) -> tuple[int, int, int]:
        return (self.year, self.first_month, self.last_month)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._sort_key() < other._sort_key()


def parse_period(key: str) -> Period:
    """Parse `2026-03`, `2026-Q1`, `2026-H1` or `2026`; raise `PeriodError` otherwise."""
    if not isinstance(key, str):
        raise PeriodError(f"invalid period key {key!r}: not a string; {_EXPECTED}")
    match = _KEY_RE.match(key)
    if match is None:
        raise PeriodError(f"invalid period key {key!r}: {_EXPECTED}")
    year = int(match.group(1))
    month, quarter, half = match.group(2), match.group(3), match.group(4)
    try:
        if month is not None:
            return Period.month(year, int(month))
        if quarter is not None:
            return Period.quarter(year, int(quarter))
        if half is not None:
            return Period.half(year, int(half))
        return Period.whole_year(year)
    except PeriodError as exc:
        raise PeriodError(f"invalid period key {key!r}: {exc}; {_EXPECTED}") from None


def as_period(value: Period | str) -> Period:
    """Accept a `Period` or its key."""
    return value if isinstance(value, Period) else parse_period(value)


def as_month(value: Period | str) -> Period:
    """Accept a month `Period` or a month key; refuse other kinds."""
    period = as_period(value)
    if period.kind is not PeriodKind.MONTH:
        raise PeriodError(f"expected a month period like 2026-03, got {period.key!r}")
    return period


def period_range(first: Period | str, last: Period | str) -> list[Period]:
    """All periods from `first` to `last` inclusive; both must be of the same kind.

    Returns an empty list when `last` is before `first`.
    """
    start, stop = as_period(first), as_period(last)
    if start.kind is not stop.kind:
        raise PeriodError(
            f"period_range needs two periods of the same kind, got {start.key!r} "
            f"({start.kind.value}) and {stop.key!r} ({stop.kind.value})"
        )
    out: list[Period] = []
    current = start
    while current <= stop:
        out.append(current)
        current = current.next()
    return out


def to_shanghai(when: datetime) -> pendulum.DateTime:
    """Convert an aware datetime to Asia/Shanghai; naive datetimes are refused."""
    if not isinstance(when, datetime):
        raise TypeError(f"expected an aware datetime, got {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"expected an aware datetime (with a timezone), got naive {when!r}")
    return pendulum.instance(when).in_timezone(SHANGHAI)


def local_text(when: datetime | None, *, empty: str = "—") -> str:
    """A time as people read it (messages, artifacts, alerts, CLI output): Beijing time
    as ``2026-10-09 10:00``; ``empty`` for no time. Storage stays UTC; every time shown
    to a person goes through here (or, in a workbook, is a Beijing-local datetime cell)."""
    if when is None:
        return empty
    return to_shanghai(when).strftime("%Y-%m-%d %H:%M")


def period_containing(kind: PeriodKind | str, when: datetime) -> Period:
    """The period of `kind` containing the aware instant `when`, taken in Asia/Shanghai."""
    try:
        period_kind = PeriodKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in PeriodKind)
        raise PeriodError(f"unknown period kind {kind!r}; expected one of {kinds}") from None
    local = to_shanghai(when)
    index = (local.month - 1) // period_kind.months_per_period + 1
    return Period(period_kind, local.year, index)


class Cycle(StrEnum):
    """The scheduled cycles (每月一分析、季度一监测、半年一评估、年度一考核 + reminder)."""

    PRE_DEADLINE_REMINDER = "pre_deadline_reminder"
    MONTHLY_ANALYSIS = "monthly_analysis"
    QUARTERLY_MONITORING = "quarterly_monitoring"
    HALF_YEAR_EVALUATION = "half_year_evaluation"
    ANNUAL_ASSESSMENT = "annual_assessment"

    @property
    def months(self) -> tuple[int, ...]:
        """The months (1–12) after whose monthly analysis this cycle runs."""
        return _CYCLE_MONTHS[self]

    @property
    def period_kind(self) -> PeriodKind:
        """The kind of period this cycle assesses."""
        return _CYCLE_KIND[self]


_CYCLE_MONTHS: dict[Cycle, tuple[int, ...]] = {
    Cycle.PRE_DEADLINE_REMINDER: tuple(range(1, 13)),
    Cycle.MONTHLY_ANALYSIS: tuple(range(1, 13)),
    Cycle.QUARTERLY_MONITORING: (3, 6, 9, 12),
    Cycle.HALF_YEAR_EVALUATION: (6, 12),
    Cycle.ANNUAL_ASSESSMENT: (12,),
}
_CYCLE_KIND: dict[Cycle, PeriodKind] = {
    Cycle.PRE_DEADLINE_REMINDER: PeriodKind.MONTH,
    Cycle.MONTHLY_ANALYSIS: PeriodKind.MONTH,
    Cycle.QUARTERLY_MONITORING: PeriodKind.QUARTER,
    Cycle.HALF_YEAR_EVALUATION: PeriodKind.HALF,
    Cycle.ANNUAL_ASSESSMENT: PeriodKind.YEAR,
}


def assessed_period(cycle: Cycle | str, month: Period | str) -> Period:
    """The period a cycle assesses when it runs for `month` (e.g. quarterly, 2026-09 → 2026-Q3).

    Raises `PeriodError` when the cycle does not run for that month (quarterly for 2026-08).
    """
    the_cycle = Cycle(cycle)
    the_month = as_month(month)
    if the_month.index not in the_cycle.months:
        raise PeriodError(
            f"{the_cycle.value} does not run for month {the_month.key}; it runs for months "
            f"{', '.join(str(m) for m in the_cycle.months)}"
        )
    kind = the_cycle.period_kind
    return Period(kind, the_month.year, (the_month.index - 1) // kind.months_per_period + 1)


_BELOW: dict[Cycle, Cycle] = {
    Cycle.QUARTERLY_MONITORING: Cycle.MONTHLY_ANALYSIS,
    Cycle.HALF_YEAR_EVALUATION: Cycle.QUARTERLY_MONITORING,
    Cycle.ANNUAL_ASSESSMENT: Cycle.HALF_YEAR_EVALUATION,
}


def cycles_below(cycle: Cycle | str, period: Period | str) -> list[tuple[Cycle, Period]]:
    """The runs of the cycle below that a run of `cycle` for `period` builds on, in order.

    Rulebook section 4: each cycle builds on the cycle below it and never redoes work
    done. A quarter needs the monthly analysis of each of its three months, a half-year
    the monitoring of each of its two quarters (and so their months), the year both
    half-years (and so every quarter and month). The monthly analysis and the
    pre-deadline reminder build on no cycle. Each run below is a no-op when done.
    """
    the_cycle = Cycle(cycle)
    the_period = as_period(period)
    if the_period.kind is not the_cycle.period_kind:
        raise PeriodError(
            f"{the_cycle.value} assesses {the_cycle.period_kind.value} periods, "
            f"not {the_period.key!r}"
        )
    below = _BELOW.get(the_cycle)
    if below is None:
        return []
    kind = below.period_kind
    first = (the_period.first_month - 1) // kind.months_per_period + 1
    last = the_period.last_month // kind.months_per_period
    return [(below, Period(kind, the_period.year, i)) for i in range(first, last + 1)]
