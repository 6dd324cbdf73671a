"""The one loader of a year's rules (``YearRules``) from the database.

The rulebook's numbers are defaults the office may set per year; a year's rules are
stored on its ``AssessmentYear`` row (``rules``, JSON).

One fallback, the rulebook's own for configuration the office has not loaded yet
(as for a year the work calendar does not cover): a year without stored rules gets
the rulebook's defaults (``DEFAULT_RULES``).

- A year whose row sets no rules: the defaults, silently (the office kept them).
- A year not in the catalog at all: the defaults, with a logged warning (once per
  process and year). The message window of January, the schedules of next year or a
  rectification reminder may need a year the office has not imported yet.

What needs the year's *catalog* (a cycle assesses its indicators) checks it with
``require_catalog_year``, which raises ``YearNotInCatalog`` with a clear message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlmodel import Session

from models.errors import NotFoundError
from models.persistence.database import session_scope
from models.persistence.tables import AssessmentYear
from models.rules import DEFAULT_RULES, YearRules
from tasks.runtime import Runtime

__all__ = [
    "YearNotInCatalog",
    "load_rules_of_years",
    "load_year_rules",
    "load_year_rules_task",
    "require_catalog_year",
]

log = logging.getLogger(__name__)
_warned: set[int] = set()


class YearNotInCatalog(NotFoundError):
    """A year the catalog does not hold (its indicators were never imported)."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"{year} 年度不在考核目录中（assessment_year 表无此年度）："
            "请先导入该年度的考核目录（assess catalog import）。"
        )


def require_catalog_year(session: Session, year: int) -> AssessmentYear:
    """The year's catalog row; ``YearNotInCatalog`` when the year was never imported."""
    row = session.get(AssessmentYear, year)
    if row is None:
        raise YearNotInCatalog(year)
    return row


def load_year_rules(session: Session, year: int) -> YearRules:
    """The rules the office set for ``year``; the rulebook's defaults where it set none.

    A year not in the catalog gets the defaults too, with a warning logged once.
    """
    row = session.get(AssessmentYear, year)
    if row is None:
        if year not in _warned:
            _warned.add(year)
            log.warning("year %s is not in the catalog: using the rulebook's default rules", year)
        return DEFAULT_RULES
    return YearRules.from_dict(dict(row.rules)) if row.rules else DEFAULT_RULES


def load_rules_of_years(session: Session, years: Iterable[int]) -> dict[int, YearRules]:
    """``load_year_rules`` for each of ``years``."""
    return {year: load_year_rules(session, year) for year in sorted(set(years))}


@task(name="load-year-rules", cache_policy=NO_CACHE)
def load_year_rules_task(runtime: Runtime, years: list[int]) -> dict[int, YearRules]:
    """The rules of ``years`` (for a flow that needs the calendar's times and deadlines)."""
    with session_scope(runtime.engine) as session:
        return load_rules_of_years(session, years)
