"""The one year-rules loader: the office's rules, else the rulebook's defaults."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.persistence.tables import AssessmentYear
from models.rules import DEFAULT_RULES, YearRules
from tasks.year_rules import (
    YearNotInCatalog,
    load_rules_of_years,
    load_year_rules,
    require_catalog_year,
)

pytestmark = pytest.mark.db


def test_a_year_gets_the_rules_the_office_set(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(AssessmentYear(year=2026, rules={"appeal_working_days": 7}))
    with session_scope(engine) as session:
        rules = load_year_rules(session, 2026)
    assert rules.appeal_working_days == 7
    assert rules.upload_deadline_day == DEFAULT_RULES.upload_deadline_day


def test_a_year_that_sets_no_rules_gets_the_rulebooks_defaults(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(AssessmentYear(year=2026))
    with session_scope(engine) as session:
        assert load_year_rules(session, 2026) == YearRules()


def test_a_year_not_in_the_catalog_gets_the_defaults_with_a_warning(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="tasks.year_rules"),
        session_scope(engine) as session,
    ):
        assert load_rules_of_years(session, [2091, 2091]) == {2091: DEFAULT_RULES}
    assert any("2091" in r.getMessage() for r in caplog.records)


def test_a_cycle_of_a_year_not_in_the_catalog_is_refused_saying_which(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(YearNotInCatalog, match="2092 年度"):
        require_catalog_year(session, 2092)
