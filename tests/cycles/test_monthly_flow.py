"""The monthly analysis flow on a real Prefect server, against the platform simulator."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from flows.monthly_analysis import monthly_analysis
from models.persistence.database import session_scope
from models.plans.monthly import plan_monthly_analysis
from models.rules import Level, Period
from tasks.monthly import load_month_snapshot
from tasks.runtime import build_runtime
from tests.fixtures.demo import set_faults

pytestmark = [pytest.mark.flow, pytest.mark.db, pytest.mark.http]


def _ledger(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT unit_id, indicator_id, period, kind, amount "
                "FROM deduction_entry ORDER BY id"
            )
        ).all()
    return [tuple(r) for r in rows]


def _sums(engine: Engine) -> dict[tuple[int, int], Decimal]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT unit_id, indicator_id, SUM(amount) FROM deduction_entry "
                "GROUP BY unit_id, indicator_id"
            )
        ).all()
    return {(u, i): Decimal(str(s)).quantize(Decimal("0.01")) for u, i, s in rows}


def test_a_monthly_analysis_run_twice_books_nothing_the_second_time(
    prefect_server: None, settings_env: Engine
) -> None:
    engine = settings_env
    first = monthly_analysis(period="2026-03", return_state=True)
    assert first.is_completed()
    ledger = _ledger(engine)
    assert ledger, "the demo month has red and missing indicators to pre-deduct"
    again = monthly_analysis(period="2026-03", return_state=True)
    assert again.is_completed()
    assert "already completed" in (again.message or "")
    assert _ledger(engine) == ledger
    forced = monthly_analysis(period="2026-03", force=True, return_state=True)
    assert forced.is_completed()
    assert _ledger(engine) == ledger


@pytest.mark.parametrize("batch_size", [1000, 5])
def test_the_ledger_sums_equal_the_months_computed_pre_deductions_whatever_the_batches(
    prefect_server: None, settings_env: Engine, batch_size: int
) -> None:
    engine = settings_env
    monthly_analysis(period="2026-03", batch_size=batch_size, return_state=True)
    with session_scope(engine) as session:
        snapshot = load_month_snapshot(session, Period.parse("2026-03"), build_runtime().calendar)
    plan = plan_monthly_analysis(snapshot)
    computed = {
        (r.unit_id, r.indicator_id): r.assessment.pre_deduction
        for r in plan.results
        if r.assessment.pre_deduction > 0
    }
    assert {k: v for k, v in _sums(engine).items() if v != 0} == computed
    assert plan.deductions == ()  # everything is booked already


def test_a_dead_platform_pre_deducts_no_one_and_the_run_says_so(
    prefect_server: None, settings_env: Engine, sim: str
) -> None:
    set_faults(sim, dead=True)
    state = monthly_analysis(period="2026-04", return_state=True)
    assert state.name == "Partial"
    assert "platform unavailable" in (state.message or "")
    assert _ledger(settings_env) == []
    with settings_env.connect() as conn:
        levels = {r[0] for r in conn.execute(sa.text("SELECT level FROM monthly_assessment"))}
        status = conn.execute(sa.text("SELECT status FROM cycle_run")).scalar_one()
    assert levels == {Level.UNAVAILABLE.value}
    assert status == "partial"
