"""The statutory public holidays of a year, computed: the fallback for a year the national
calendar package does not cover yet.

Per the national regulation on public holidays (《全国年节及纪念日放假办法》 as amended in
2024, in force from 2025), holidays for all citizens are:

- 元旦 (New Year's Day): 1 January;
- 春节 (Spring Festival): the lunar New Year's Eve (the last day of the 12th lunar month)
  and the first three days of the 1st lunar month;
- 清明节: the day of the Qingming solar term;
- 劳动节: 1 and 2 May;
- 端午节: the 5th day of the 5th lunar month;
- 中秋节: the 15th day of the 8th lunar month;
- 国庆节: 1, 2 and 3 October.

The regulation also says that a holiday falling on a Saturday or Sunday is made up on a
working day (补休). This module does that mechanically: each such day, and each day on
which two holidays coincide (中秋 on 1–3 October), gives the first following weekday that is
not itself a holiday or a make-up day off. What it cannot compute is the State Council's
yearly arrangement of bridging days (调休: weekdays off in exchange for weekend working
days); those, like any correction, are the office's overrides to load.

Lunar dates come from the `lunardate` package (pure Python, tables for lunar years
1900–2099); the Qingming day from the solar-term formula for the 21st century,
``int(Y * 0.2422 + 4.81) - int(Y / 4)`` April with ``Y = year % 100``. For a year outside
2000–2099 only the fixed-date holidays are returned.
"""

from __future__ import annotations

from datetime import date, timedelta

from lunardate import LunarDate

__all__ = [
    "compute_statutory_holidays",
    "lunar_to_solar",
    "qingming_day",
    "spring_festival_days",
]

_ONE_DAY = timedelta(days=1)
_FIRST_YEAR, _LAST_YEAR = 2000, 2099  # the Qingming formula's century; lunardate's range


def _computable(year: int) -> bool:
    return _FIRST_YEAR <= year <= _LAST_YEAR


def lunar_to_solar(year: int, month: int, day: int) -> date:
    """The Gregorian date of lunar ``year``-``month``-``day`` (not a leap month)."""
    solar = LunarDate(year, month, day).to_solar_date()
    return date(solar.year, solar.month, solar.day)


def qingming_day(year: int) -> date:
    """The day of the Qingming solar term (清明), 2000–2099: 4 or 5 April."""
    if not _computable(year):
        raise ValueError(f"the Qingming formula covers {_FIRST_YEAR}–{_LAST_YEAR}, not {year}")
    y = year % 100
    return date(year, 4, int(y * 0.2422 + 4.81) - y // 4)


def spring_festival_days(year: int) -> tuple[date, ...]:
    """春节 in Gregorian ``year``: lunar New Year's Eve and the 1st–3rd of the 1st month."""
    new_year = lunar_to_solar(year, 1, 1)
    return (new_year - _ONE_DAY, new_year, new_year + _ONE_DAY, new_year + 2 * _ONE_DAY)


def _holiday_days(year: int) -> list[tuple[date, str]]:
    days: list[tuple[date, str]] = [(date(year, 1, 1), "元旦")]
    if _computable(year):
        days += [(d, "春节") for d in spring_festival_days(year)]
        days.append((qingming_day(year), "清明节"))
    days += [(date(year, 5, 1), "劳动节"), (date(year, 5, 2), "劳动节")]
    if _computable(year):
        days.append((lunar_to_solar(year, 5, 5), "端午节"))
        days.append((lunar_to_solar(year, 8, 15), "中秋节"))
    days += [(date(year, 10, d), "国庆节") for d in (1, 2, 3)]
    return sorted(days)


def compute_statutory_holidays(year: int) -> dict[date, str]:
    """Every statutory day off of ``year`` with its Chinese name, make-up days (补休) included.

    A make-up day is named after the holiday it makes up for, e.g. "春节（补休）".
    """
    out: dict[date, str] = {}
    owed: list[tuple[date, str]] = []
    for day, name in _holiday_days(year):
        if day in out:
            out[day] = f"{out[day]}、{name}"
            owed.append((day, name))  # two holidays on one day: one is made up
            continue
        out[day] = name
        if day.weekday() >= 5:
            owed.append((day, name))
    for day, name in owed:
        substitute = day + _ONE_DAY
        while substitute.weekday() >= 5 or substitute in out:
            substitute += _ONE_DAY
        out[substitute] = f"{name}（补休）"
    return dict(sorted(out.items()))
