"""The recompute's inputs (one unit's stored state and rulings) and outputs (the
correcting entries), as frozen data; see ``models.plans.recompute``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from models.plans.monthly import IndicatorSnap, UnitSnap, WarningState
from models.rules import Assessment, Level, Observation, Period, Ruling, YearRules

ZERO = Decimal(0)
VALUE_PLACES = Decimal("0.000001")
HALF_YEAR = "half_year_evaluation"
ANNUAL = "annual_assessment"
RED_LEVELS = frozenset({Level.RED.value, Level.MISSING.value})


def _stored(value: Decimal | None) -> Decimal | None:
    """A value as a ``Numeric(20, 6)`` column keeps it."""
    return None if value is None else value.quantize(VALUE_PLACES, rounding=ROUND_HALF_UP)


class RecomputeError(ValueError):
    """The ruling cannot be recomputed (e.g. its month has not been analysed yet)."""


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class CellState:
    """A (unit, indicator, month)'s stored assessment (``MonthlyAssessment``)."""

    level: str
    expected: Decimal | None
    actual: Decimal | None
    completion: Decimal | None
    pre_deduction: Decimal

    @classmethod
    def of(cls, a: Assessment) -> CellState:
        """The assessment as stored: values and completion to the column's 6 decimals
        (the annual settlement reads the stored completion)."""
        return cls(
            a.level.value,
            _stored(a.expected),
            _stored(a.actual),
            _stored(a.completion),
            a.pre_deduction,
        )

    @property
    def assessed(self) -> bool:
        return self.level != Level.UNAVAILABLE.value

    @property
    def is_red(self) -> bool:
        return self.level in RED_LEVELS


@dataclass(frozen=True)
class RulingRef:
    """An effective ruling on one of the unit's cells (``month``: the appealed month)."""

    id: int
    appeal_id: int
    indicator_id: int
    month: str
    ruling: Ruling
    effective_at: datetime
    reason: str = ""
    document_ref: str = ""


@dataclass(frozen=True)
class LedgerKeyState:
    """A (unit, indicator, year)'s deduction ledger: its sum and its latest entry."""

    total: Decimal
    latest_id: int | None


@dataclass(frozen=True)
class StoredResult:
    """The latest ``ResultEntry`` of a unit for one cycle and period."""

    id: int
    unit_id: int
    category: str
    score: Decimal
    deductions: Decimal
    total_weight: Decimal
    rank: int
    grade: str | None
    cycle_run_id: int | None


@dataclass(frozen=True)
class ResultSet:
    """A published result (a half-year evaluation or the annual assessment) of one category."""

    cycle: str
    period: str
    rows: Mapping[int, StoredResult]

    @property
    def closing_month(self) -> int:
        if self.cycle == HALF_YEAR:
            return 6 if self.period.endswith("H1") else 12
        return 12


@dataclass(frozen=True)
class NegativeEventRow:
    id: int
    period: str
    event: str


@dataclass(frozen=True)
class RecomputeSnapshot:
    """Everything recomputing one ruling needs: one unit and its category only.

    ``cells``: the unit's stored assessments of the year, by (indicator id, month key);
    ``raw_observations``: the platform's observation of each cell that has a
    non-rejected ruling (from the record versions, as the monthly analysis chose it);
    ``rulings``: every effective ruling on the unit's cells in the year;
    ``ledger``: each of the unit's indicators' ledger sum and latest entry;
    ``warnings``: the latest warning entry of each ruled cell;
    ``red_before``: whether the unit had a red cell in each month before the year (None:
    no cell assessed, passed over);
    ``negative_events``: the unit's negative-list events, in booking order;
    ``settled``: the annual assessment has settled the year;
    ``results``: the published results of the year for the unit's category;
    ``month_indicators``: the unit's indicators as of each month (catalog revisions
    effective by then), by month key; a month absent takes ``indicators``.
    """

    ruling: RulingRef
    rules: YearRules
    unit: UnitSnap
    indicators: Sequence[IndicatorSnap]
    cells: Mapping[tuple[int, str], CellState]
    raw_observations: Mapping[tuple[int, str], Observation]
    rulings: Sequence[RulingRef]
    ledger: Mapping[int, LedgerKeyState]
    warnings: Mapping[tuple[int, str], WarningState]
    red_before: Mapping[str, bool | None]
    negative_events: Sequence[NegativeEventRow]
    settled: bool
    results: Sequence[ResultSet]
    month_indicators: Mapping[str, Sequence[IndicatorSnap]] = field(default_factory=dict)

    @property
    def year(self) -> int:
        return Period.parse(self.ruling.month).year

    def indicators_at(self, month: str) -> dict[int, IndicatorSnap]:
        """The unit's indicators by id as of ``month`` (a month keeps the catalog revision
        it was assessed under)."""
        chosen = self.month_indicators.get(month)
        return {i.id: i for i in (self.indicators if chosen is None else chosen)}


# ---------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class CellUpdate:
    indicator_id: int
    month: str
    before: CellState
    after: CellState


@dataclass(frozen=True)
class DeductionCorrection:
    """A correcting entry: ``amount = new_sum − previous_sum``; ``corrects_id`` the key's
    latest entry."""

    indicator_id: int
    period: str
    kind: str
    stage: str
    amount: Decimal
    previous_sum: Decimal
    new_sum: Decimal
    level: str
    completion: Decimal | None
    corrects_id: int | None


@dataclass(frozen=True)
class WarningCorrection:
    indicator_id: int
    month: str
    level: str
    completion: Decimal | None
    expected: Decimal | None
    actual: Decimal | None
    corrects_id: int | None


@dataclass(frozen=True)
class NegativeCorrection:
    month: str
    event: str


@dataclass(frozen=True)
class ResultCorrection:
    cycle: str
    period: str
    unit_id: int
    category: str
    score: Decimal
    deductions: Decimal
    total_weight: Decimal
    rank: int
    grade: str | None
    cycle_run_id: int | None
    before: StoredResult

    @property
    def rank_or_grade_changed(self) -> bool:
        return self.rank != self.before.rank or self.grade != self.before.grade


@dataclass(frozen=True)
class RecomputePlan:
    ruling_id: int
    unit_id: int
    category: str
    months: tuple[str, ...]
    cells: tuple[CellUpdate, ...]
    deductions: tuple[DeductionCorrection, ...]
    warnings: tuple[WarningCorrection, ...]
    negative_events: tuple[NegativeCorrection, ...]
    results: tuple[ResultCorrection, ...]

    @property
    def changes_nothing(self) -> bool:
        return not (
            self.cells or self.deductions or self.warnings or self.negative_events or self.results
        )

    def summary(self) -> dict[str, object]:
        return {
            "ruling_id": self.ruling_id,
            "unit_id": self.unit_id,
            "months": list(self.months),
            "cells": len(self.cells),
            "deductions": [str(d.amount) for d in self.deductions],
            "warnings": len(self.warnings),
            "negative_events": [f"{e.month}:{e.event}" for e in self.negative_events],
            "results": len(self.results),
            "rank_or_grade_changes": sum(1 for r in self.results if r.rank_or_grade_changed),
        }
