"""Whether a cycle's period is due (``models.rules.due``), with the year's rules and calendar."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from models.persistence.database import session_scope
from models.rules import Period
from models.rules.due import DueCheck, check_due
from tasks.runtime import Runtime
from tasks.year_rules import load_year_rules


def load_due_check(runtime: Runtime, cycle: str, period: str, now: datetime) -> DueCheck:
    """``check_due`` for ``period`` with its year's rules and the configured calendar."""
    the_period = Period.parse(period)
    with session_scope(runtime.engine) as session:
        rules = load_year_rules(session, the_period.year)
    return check_due(cycle, the_period, now, runtime.calendar, rules)


@task(name="check-due", cache_policy=NO_CACHE)
def check_due_task(runtime: Runtime, cycle: str, period: str, now: datetime) -> DueCheck:
    """Whether ``cycle`` may run for ``period`` at ``now``; when not, the reason in Chinese."""
    return load_due_check(runtime, cycle, period, now)
