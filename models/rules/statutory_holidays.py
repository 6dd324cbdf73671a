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

Lunar dates come from a table of the three lunar days the holidays need (the 1st of the
1st month, 5-5 and 8-15) in Gregorian dates for 2000–2099, as published lunar
calendars (农历) give them (generated once from the `lunardate` tables and checked
against `chinesecalendar` for 2008–2026 in the tests); the Qingming day from the
solar-term formula for the 21st century, ``int(Y * 0.2422 + 4.81) - int(Y / 4)``
April with ``Y = year % 100``. For a year outside 2000–2099 only the fixed-date
holidays are returned.
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = [
    "compute_statutory_holidays",
    "lunar_to_solar",
    "qingming_day",
    "spring_festival_days",
]

_ONE_DAY = timedelta(days=1)
_LUNAR_DAYS: tuple[str, ...] = (
    "020506060912",
    "012406251001",
    "021206150921",
    "020106040911",
    "012206220928",
    "020906110918",
    "012905311006",
    "021806190925",
    "020706080914",
    "012605281003",
    "021406160922",
    "020306060912",
    "012306230930",
    "021006120919",
    "013106020908",
    "021906200927",
    "020806090915",
    "012805301004",
    "021606180924",
    "020506070913",
    "012506251001",
    "021206140921",
    "020106030910",
    "012206220929",
    "021006100917",
    "012905311006",
    "021706190925",
    "020606090915",
    "012605281003",
    "021306160922",
    "020306050912",
    "012306241001",
    "021106120919",
    "013106010908",
    "021906200927",
    "020806100916",
    "012805301004",
    "021506180924",
    "020406070913",
    "012405271002",
    "021206140920",
    "020106030910",
    "012206220928",
    "021006110917",
    "013005311005",
    "021706190925",
    "020606080915",
    "012605291004",
    "021406150922",
    "020206040911",
    "012306230930",
    "021106130919",
    "020106010907",
    "021906200926",
    "020806100916",
    "012805301005",
    "021506170924",
    "020406060913",
    "012406251002",
    "021206140921",
    "020206030909",
    "012106220928",
    "020906110917",
    "012906011006",
    "021706190925",
    "020506080915",
    "012605281003",
    "021406160923",
    "020306040911",
    "012306230929",
    "021106130919",
    "013106020908",
    "021906200926",
    "020706100916",
    "012705301005",
    "021506170924",
    "020506060912",
    "012406241001",
    "021206140920",
    "020206040910",
    "012206220928",
    "020906110917",
    "012906011006",
    "021706190926",
    "020606070914",
    "012605271003",
    "021406150922",
    "020306050911",
    "012406230929",
    "021006130918",
    "013006020908",
    "021806210927",
    "020706090916",
    "012705291005",
    "021506170924",
    "020506060913",
    "012506240930",
    "021206140920",
    "020106040909",
    "012106230929",
)
"""Per year from 2000: MMDD of lunar 1-1, 5-5 and 8-15, twelve digits a year."""
_LUNAR_INDEX = {(1, 1): 0, (5, 5): 4, (8, 15): 8}
_FIRST_YEAR, _LAST_YEAR = 2000, 2099  # the Qingming formula's century; the table's


def _computable(year: int) -> bool:
    return _FIRST_YEAR <= year <= _LAST_YEAR


def lunar_to_solar(year: int, month: int, day: int) -> date:
    """The Gregorian date of lunar ``year``-``month``-``day``: the 1st of the 1st month,
    the 5th of the 5th or the 15th of the 8th (the holidays' days), 2000–2099."""
    at = _LUNAR_INDEX.get((month, day))
    if at is None or not _computable(year):
        raise ValueError(f"no table entry for lunar {year}-{month}-{day}")
    mmdd = _LUNAR_DAYS[year - _FIRST_YEAR][at : at + 4]
    return date(year, int(mmdd[:2]), int(mmdd[2:]))


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
