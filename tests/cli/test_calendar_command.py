"""`assess calendar`: the year's runs and upload deadlines on the working-day calendar."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from datetime import date, datetime

import pytest

from models.rules import CalendarFallbackWarning, WorkCalendar
from models.rules.statutory_holidays import spring_festival_days
from tests.fixtures.cli import Ran


@pytest.fixture
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSESS_CALENDAR_OVERRIDES", raising=False)


def _days(ran: Ran) -> list[date]:
    rows = json.loads(ran.out)
    return [datetime.fromisoformat(r["run_at"]).date() for r in rows]


@pytest.mark.usefixtures("no_overrides")
@pytest.mark.parametrize("year", ["2026", "2027"])
def test_assess_calendar_schedules_nothing_on_new_years_day_or_the_2027_spring_festival(
    assess: Callable[..., Ran], year: str
) -> None:
    ran = assess("calendar", "--year", year, "--json")
    assert ran.code == 0, ran.err
    holidays = {date(2027, 1, 1), *spring_festival_days(2027)}
    days = _days(ran)
    assert days and not holidays & set(days)
    calendar = WorkCalendar.from_mapping(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalendarFallbackWarning)
        assert all(calendar.is_working_day(d) for d in days)
    assert "2027年的法定节假日安排尚未收录" in ran.err  # the fallback warning is kept


@pytest.mark.usefixtures("no_overrides")
def test_assess_calendar_shows_each_months_upload_deadline_in_readable_utf8_json(
    assess: Callable[..., Ran],
) -> None:
    ran = assess("calendar", "--year", "2026", "--json")
    rows = json.loads(ran.out)
    deadlines = {r["month"]: r["run_at"] for r in rows if r["cycle"] == "upload_deadline"}
    assert len(deadlines) == 12
    assert deadlines["2026-09"] == WorkCalendar().upload_deadline("2026-09").isoformat()
    assert "数据上传截止 2026-09" in ran.out and "\\u" not in ran.out
    text = assess("calendar", "--year", "2026")
    assert text.code == 0
    assert any(
        line.startswith("2026-10-08") and "数据上传截止 2026-09" in line
        for line in text.out.splitlines()
    )
