"""Recomputing one unit after a ruling (申诉复查后重新核算), as a pure plan.

A ruling changes one month's observation of one (unit, indicator): ``corrected``
puts the right value in its place, ``waived`` leaves no deduction for that month,
``reduced`` cuts that month's deduction by a share, ``rejected`` changes nothing
(rulebook section 7, ``models.rules.rulings``). The unit's results are then
recomputed for that month and every later month already analysed in the year:

- each ruled cell (``MonthlyAssessment``) is assessed again from the platform's
  observation with the cell's latest effective, non-rejected ruling applied;
- the deduction ledger of each ruled (unit, indicator, year) is taken to what a
  computation with the rulings applied from the start would hold: the
  pre-deduction of the latest analysed month, or, once the year is settled, the
  final deduction on December's completion (cut by a December waiver or
  reduction). One correcting entry per key, pointing to the key's latest entry;
- the warning ledger gets a correcting entry where a ruled month's level changed;
- the negative list gets an ``on``/``off`` event in each month whose membership
  changes (a month's membership is the latest event, by booking order, of a month
  at or before it);
- published results: the unit's half-year running scores (the ledger as of the
  half's closing month) and annual score are recomputed, then the ranks (and, at
  the annual assessment, the grades) of its whole category; a new result row is
  booked for every unit whose row changes. (The negative list and the results are
  left as they stand when the rulings changed no cell and no ledger: a rejection.)

``plan_recompute`` decides all of it from a ``RecomputeSnapshot`` (one unit's
cells, ledgers and rulings, and its category's latest results); applied to the
state it produces it plans nothing, so a second run books nothing.

``plan_monthly_analysis_with_rulings`` is the monthly analysis with the month's
effective rulings applied: what a monthly run (or a fresh recomputation of the
year) does so that a forced rerun keeps the rulings.

Nothing here reads a database or the clock.

The package: ``state`` (the snapshot going in, the plan coming out), ``plan``
(``plan_recompute`` and the rules it applies), ``with_rulings`` (the monthly
analysis with rulings) and ``decisions`` (what the unit reads about a ruling).
"""

from __future__ import annotations

from models.plans.recompute.decisions import appeal_outcome_digest, decision_reason
from models.plans.recompute.plan import (
    final_with_ruling,
    latest_rulings,
    plan_recompute,
    ruled_assessment,
)
from models.plans.recompute.state import (
    ANNUAL,
    HALF_YEAR,
    CellState,
    CellUpdate,
    DeductionCorrection,
    LedgerKeyState,
    NegativeCorrection,
    NegativeEventRow,
    RecomputeError,
    RecomputePlan,
    RecomputeSnapshot,
    ResultCorrection,
    ResultSet,
    RulingRef,
    StoredResult,
    WarningCorrection,
)
from models.plans.recompute.with_rulings import plan_monthly_analysis_with_rulings

__all__ = [
    "ANNUAL",
    "HALF_YEAR",
    "CellState",
    "CellUpdate",
    "DeductionCorrection",
    "LedgerKeyState",
    "NegativeCorrection",
    "NegativeEventRow",
    "RecomputeError",
    "RecomputePlan",
    "RecomputeSnapshot",
    "ResultCorrection",
    "ResultSet",
    "RulingRef",
    "StoredResult",
    "WarningCorrection",
    "appeal_outcome_digest",
    "decision_reason",
    "final_with_ruling",
    "latest_rulings",
    "plan_monthly_analysis_with_rulings",
    "plan_recompute",
    "ruled_assessment",
]
