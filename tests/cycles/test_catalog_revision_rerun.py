"""A catalog revision on a month already analysed: a forced rerun of a month from its
effective month books the difference; a month before it keeps its rules (issue 14)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from deployments.demo.build_catalog import demo_catalog
from flows.monthly_analysis import monthly_analysis
from models.persistence.database import session_scope
from tasks.catalog_revisions import RevisionRequest, plan_revision, save_revision

pytestmark = [pytest.mark.flow, pytest.mark.db, pytest.mark.http]


def _ledger(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT d.unit_id, i.code, d.period, d.kind, d.amount FROM deduction_entry d "
                "JOIN indicator i ON i.id = d.indicator_id ORDER BY d.id"
            )
        ).all()
    return [tuple(r) for r in rows]


def _double_weight(engine: Engine, code: str, effective: str) -> None:
    catalog = demo_catalog()
    changed = replace(
        catalog,
        indicators=tuple(
            replace(i, weight=i.weight * 2) if (i.year, i.code) == (2026, code) else i
            for i in catalog.indicators
        ),
    )
    request = RevisionRequest(changed, "修订.xlsx", "青考办〔2026〕12号", effective, "", "test")
    with session_scope(engine) as session:
        difference = plan_revision(session, request)
        assert len(difference.changes) == 1
        save_revision(session, request, difference, datetime(2026, 4, 20, tzinfo=UTC))


@pytest.mark.parametrize("effective", ["2026-03", "2026-04"])
def test_a_forced_rerun_books_a_revision_only_for_months_from_its_effective_month(
    prefect_server: None, settings_env: Engine, effective: str
) -> None:
    engine = settings_env
    assert monthly_analysis(period="2026-03", return_state=True).is_completed()
    ledger = _ledger(engine)
    deducted = [row[1] for row in ledger if row[4] != 0]
    assert deducted, "the demo month has pre-deductions"
    code = max(set(deducted), key=deducted.count)
    _double_weight(engine, code, effective)
    assert monthly_analysis(period="2026-03", force=True, return_state=True).is_completed()
    after = _ledger(engine)
    assert after[: len(ledger)] == ledger  # append-only: nothing rewritten
    added = after[len(ledger) :]
    if effective == "2026-04":
        assert added == []
        return
    assert added and {row[1] for row in added} == {code}
    sums: dict[int, Decimal] = {}
    for unit, ind, _p, _k, amount in after:
        if ind == code:
            sums[unit] = sums.get(unit, Decimal(0)) + Decimal(str(amount))
    before: dict[int, Decimal] = {}
    for unit, ind, _p, _k, amount in ledger:
        if ind == code:
            before[unit] = before.get(unit, Decimal(0)) + Decimal(str(amount))
    assert {u: s.quantize(Decimal("0.01")) for u, s in sums.items()} == {
        u: (2 * s).quantize(Decimal("0.01")) for u, s in before.items()
    }
