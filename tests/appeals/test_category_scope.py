"""The recomputation reads its category's annual results and notices only, and reads them
as the annual assessment does (``tasks.annual``), so its corrected notices are the
ones the annual flow would queue."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.rules import WorkCalendar
from tasks.annual import load_annual_results, previous_notices
from tasks.year_rules import load_year_rules

pytestmark = [
    pytest.mark.flow,
    pytest.mark.db,
    pytest.mark.http,  # the analysed year is collected from the platform simulator
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning"),
]


def test_a_categorys_results_and_notices_are_the_provinces_restricted_to_it(
    year_db: Engine,
) -> None:
    calendar = WorkCalendar()
    with session_scope(year_db) as session:
        rules = load_year_rules(session, 2026)
        everyone = load_annual_results(session, 2026)
        notices = previous_notices(session, 2026, calendar, rules)
        categories = sorted({r.category for r in everyone})
        assert len(categories) > 1 and notices
        for category in categories:
            mine = [r for r in everyone if r.category == category]
            assert load_annual_results(session, 2026, category) == mine
            codes = {r.unit_code for r in mine}
            assert previous_notices(session, 2026, calendar, rules, category) == {
                code: v for code, v in notices.items() if code in codes
            }
