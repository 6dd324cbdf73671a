"""Two recomputations at the same time, for the same unit or for two units of one
category: the category's lock (PostgreSQL advisory lock, SQLite write lock) makes the
second read what the first booked, so the ledgers and ranks stay consistent.

Each recomputation holds its transaction open between reading and booking, so that
without the lock both would read the same state (run with ASSESS_TEST_DB=postgresql
for two truly concurrent writers)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.rules import Ruling, RulingKind, WorkCalendar
from tasks.appeals.recompute import RecomputeOutcome, recompute_ruling
from tasks.appeals.rulings import record_ruling
from tests.appeals.support import assert_matches_fresh, file_appeal, rows

pytestmark = [
    pytest.mark.db,
    pytest.mark.flow,  # the analysed year is built by the cycle flows
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning"),
]

NOW = datetime(2027, 2, 3, 2, 0, tzinfo=UTC)
HOLD_SECONDS = 0.6


def _rule(engine: Engine, unit: int, indicator: int, month: str = "2026-12") -> int:
    appeal = file_appeal(engine, unit, indicator, month, kind="other")
    with session_scope(engine) as session:
        record = record_ruling(
            session,
            appeal,
            Ruling(RulingKind.WAIVED),
            reason="经核查属实",
            document_ref="青考办〔2027〕9号",
            ruled_by="考核办",
            now=NOW,
        )
    assert record.effective
    return record.ruling_id


def _race(engine: Engine, ruling_ids: list[int]) -> list[RecomputeOutcome]:
    """Start every recomputation at the same moment, each holding its transaction open."""
    barrier = threading.Barrier(len(ruling_ids))
    outcomes: list[RecomputeOutcome] = []
    errors: list[BaseException] = []

    def run(ruling_id: int) -> None:
        barrier.wait()
        try:
            outcomes.append(
                recompute_ruling(
                    engine, ruling_id, NOW, WorkCalendar(), hold=lambda: time.sleep(HOLD_SECONDS)
                )
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in ruling_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return outcomes


def _red_december_cells(engine: Engine) -> dict[int, tuple[int, Decimal]]:
    """Each unit's largest red December cell: unit → (indicator, its final deduction)."""
    cells: dict[int, tuple[int, Decimal]] = {}
    for unit, indicator, pre in rows(
        engine,
        "SELECT unit_id, indicator_id, pre_deduction FROM monthly_assessment "
        "WHERE period = '2026-12' AND level = 'red' ORDER BY pre_deduction DESC, unit_id",
    ):
        cells.setdefault(unit, (indicator, Decimal(str(pre))))
    return cells


def _overtaking_pair(engine: Engine) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two units of one category, each with a red December cell, such that waiving the
    second's lifts it past the first: each recomputation then changes the other unit's
    rank, so recomputations that did not see each other would leave stale rows."""
    annual = {
        u: (category, Decimal(str(score)), Decimal(str(d)), Decimal(str(w)))
        for u, category, score, d, w in rows(
            engine,
            "SELECT unit_id, category, score, deductions, total_weight FROM result_entry "
            "WHERE cycle = 'annual_assessment' ORDER BY id",
        )
    }
    cells = _red_december_cells(engine)

    def lifted(unit: int) -> Decimal:
        _, _, d, w = annual[unit]
        return (Decimal(100) * (w - (d - cells[unit][1])) / w).quantize(Decimal("0.01"))

    for a in sorted(cells):
        for b in sorted(cells):
            if a != b and annual[a][0] == annual[b][0] and annual[b][1] < annual[a][1] < lifted(b):
                return (a, cells[a][0]), (b, cells[b][0])
    raise AssertionError("no two units of one category where one overtakes the other")


def test_the_same_ruling_recomputed_twice_at_once_books_its_corrections_once(
    year_db: Engine,
) -> None:
    engine = year_db
    (unit, indicator), _ = _overtaking_pair(engine)
    ruling_id = _rule(engine, unit, indicator)

    outcomes = _race(engine, [ruling_id, ruling_id])

    assert sorted(bool(o.summary["deductions"]) for o in outcomes) == [False, True]
    assert rows(
        engine, "SELECT COUNT(*) FROM deduction_entry WHERE ruling_id = :r", r=ruling_id
    ) == [(1,)]
    assert rows(engine, "SELECT COUNT(*) FROM message WHERE kind = 'appeal_outcome'") == [(1,)]
    assert_matches_fresh(engine, {(unit, indicator, "2026-12"): Ruling(RulingKind.WAIVED)}, [unit])


def test_two_units_of_one_category_recomputed_at_once_leave_consistent_ranks(
    year_db: Engine,
) -> None:
    engine = year_db
    (u1, i1), (u2, i2) = _overtaking_pair(engine)
    first, second = _rule(engine, u1, i1), _rule(engine, u2, i2)

    _race(engine, [first, second])

    rulings = {
        (u1, i1, "2026-12"): Ruling(RulingKind.WAIVED),
        (u2, i2, "2026-12"): Ruling(RulingKind.WAIVED),
    }
    assert_matches_fresh(engine, rulings, [u1, u2])
