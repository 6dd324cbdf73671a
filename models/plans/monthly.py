"""The monthly analysis as a pure plan: from a month's snapshot to what to book.

``plan_monthly_analysis`` takes plain data (units, indicators, observations, the
ledger's current sums, earlier months' red flags) and returns a ``MonthlyPlan``:
each cell's assessment, the deduction entries to append, the warning entries, the
negative-list events (digests are built from the results). Tasks gather the snapshot and
apply the plan; nothing here reads a database or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from models.rules import (
    MISSING,
    UNAVAILABLE,
    Assessment,
    IndicatorSpec,
    LedgerChange,
    Level,
    Observation,
    Period,
    YearRules,
    assessor,
    plan_entry,
)

from .as_of import NegativeEventRow, negative_corrections

ZERO = Decimal(0)


@dataclass(frozen=True)
class UnitSnap:
    id: int
    code: str
    name: str
    category: str
    on_platform: bool = True


@dataclass(frozen=True)
class IndicatorSnap:
    id: int
    code: str
    name: str
    weight: Decimal
    spec: IndicatorSpec
    categories: frozenset[str]
    unit_of_measure: str = ""


@dataclass(frozen=True)
class RecordVersion:
    """One stored version of a platform progress record."""

    unit_id: int
    indicator_id: int
    record_id: str
    value: Decimal | None
    status: str
    updated_at: datetime
    reported_at: datetime | None = None


@dataclass(frozen=True)
class WarningState:
    """The latest warning-ledger entry of a (unit, indicator, month)."""

    id: int
    level: str


@dataclass(frozen=True)
class MonthSnapshot:
    """Everything the monthly analysis of ``month`` needs, as plain data.

    ``ledger_sums``: the ledger as of ``month`` (entries of valid month ≤ ``month``);
    ``red_history``: each unit's red flag (None: unavailable) of the 12 months before
    ``month`` and of the year's analysed months after it; ``negative_events``: the
    units' negative-list events of any valid month (None: take ``on_negative_list`` as
    the list at the end of the month before); ``year_settled``: the annual settlement
    is booked (``final`` entries), which closes the year's ledger to monthly runs.
    """

    month: Period
    rules: YearRules
    units: Sequence[UnitSnap]
    indicators: Sequence[IndicatorSnap]
    observations: Mapping[tuple[int, int], Observation]
    ledger_sums: Mapping[tuple[int, int], Decimal] = field(default_factory=dict)
    warnings: Mapping[tuple[int, int], WarningState] = field(default_factory=dict)
    red_history: Mapping[int, Mapping[str, bool | None]] = field(default_factory=dict)
    on_negative_list: frozenset[int] = frozenset()
    latest_booked_month: Period | None = None
    deadline: date | None = None
    negative_events: Sequence[NegativeEventRow] | None = None
    year_settled: bool = False


@dataclass(frozen=True)
class DeductionBooking:
    unit_id: int
    indicator_id: int
    change: LedgerChange
    level: Level
    completion: Decimal | None


@dataclass(frozen=True)
class WarningBooking:
    unit_id: int
    indicator_id: int
    level: Level
    assessment: Assessment
    corrects_id: int | None = None


@dataclass(frozen=True)
class NegativeEvent:
    unit_id: int
    event: str  # "on" | "off"
    period: str | None = None  # the valid month; None: the month analysed


@dataclass(frozen=True)
class CellResult:
    unit_id: int
    indicator_id: int
    assessment: Assessment


@dataclass(frozen=True)
class MonthlyPlan:
    month: Period
    results: tuple[CellResult, ...]
    deductions: tuple[DeductionBooking, ...]
    warnings: tuple[WarningBooking, ...]
    negative_events: tuple[NegativeEvent, ...]
    books_ledger: bool
    red_units: frozenset[int]


def applies(indicator: IndicatorSnap, unit: UnitSnap) -> bool:
    return unit.category in indicator.categories


def effective_observations(
    units: Sequence[UnitSnap],
    indicators: Sequence[IndicatorSnap],
    versions: Iterable[RecordVersion],
    cutoff: datetime,
    unavailable_units: frozenset[int] | None = None,
    platform_down: bool = False,
) -> dict[tuple[int, int], Observation]:
    """Each applicable (unit, indicator)'s observation for the month.

    - A unit not on the platform, a unit the platform could not be read for, or every
      unit when the platform was down: ``UNAVAILABLE`` (never the unit's failing).
    - Otherwise the record versions decide: drafts are ignored; per (unit, indicator)
      the latest version updated by ``cutoff`` (the end of the upload deadline day)
      wins, a withdrawn one meaning no value. A record first reported by the cutoff
      but only seen in a later version keeps that version's value (the platform keeps
      no history). No on-time value: ``MISSING``.
    """
    return cell_observations(
        units, indicators, choose_versions(versions, cutoff), unavailable_units, platform_down
    )


def choose_versions(
    versions: Iterable[RecordVersion], cutoff: datetime
) -> dict[tuple[int, int], ChosenVersion]:
    """Per (unit, indicator), the status and value of the version that decides it: the
    latest non-draft version updated by ``cutoff`` (by updated time, then record id),
    else the latest one updated after it of a record reported by it (the first of
    equal times)."""
    best: dict[tuple[int, int], RecordVersion] = {}
    late: dict[tuple[int, int], RecordVersion] = {}
    for v in versions:
        if v.status == "draft":
            continue
        key = (v.unit_id, v.indicator_id)
        if v.updated_at <= cutoff:
            current = best.get(key)
            if current is None or (v.updated_at, v.record_id) > (
                current.updated_at,
                current.record_id,
            ):
                best[key] = v
        elif v.reported_at is not None and v.reported_at <= cutoff:
            current = late.get(key)
            if current is None or v.updated_at > current.updated_at:
                late[key] = v
    chosen = {key: (v.status, v.value) for key, v in late.items()}
    chosen.update((key, (v.status, v.value)) for key, v in best.items())
    return chosen


ChosenVersion = tuple[str, Decimal | None]
"""The status and value of the version that decides a cell (see ``effective_observations``)."""


def cell_observations(
    units: Sequence[UnitSnap],
    indicators: Sequence[IndicatorSnap],
    chosen: Mapping[tuple[int, int], ChosenVersion],
    unavailable_units: frozenset[int] | None = None,
    platform_down: bool = False,
) -> dict[tuple[int, int], Observation]:
    """Each applicable cell's observation from the version chosen for it, if any (the
    second half of ``effective_observations``, for a loader that chose in the database)."""
    unavailable = unavailable_units or frozenset()
    out: dict[tuple[int, int], Observation] = {}
    by_category: dict[str, list[int]] = {}
    for unit in units:
        ids = by_category.get(unit.category)
        if ids is None:
            ids = by_category[unit.category] = [i.id for i in indicators if applies(i, unit)]
        if platform_down or not unit.on_platform or unit.id in unavailable:
            out.update(((unit.id, i), UNAVAILABLE) for i in ids)
            continue
        for indicator_id in ids:
            key = (unit.id, indicator_id)
            status, value = chosen.get(key, _NOTHING)
            out[key] = value if status == "submitted" and value is not None else MISSING
    return out


_NOTHING: ChosenVersion = ("", None)


def plan_monthly_analysis(snapshot: MonthSnapshot) -> MonthlyPlan:
    """Decide the month: assessments, ledger entries, warnings, negative list, reminders."""
    month = snapshot.month
    rules = snapshot.rules
    books_ledger = not snapshot.year_settled and (
        snapshot.latest_booked_month is None or snapshot.latest_booked_month <= month
    )
    results: list[CellResult] = []
    deductions: list[DeductionBooking] = []
    warnings: list[WarningBooking] = []
    red_units: set[int] = set()
    assessed_units: set[int] = set()
    by_category: dict[str, list[IndicatorSnap]] = {}
    assessors = {i.id: assessor(i.spec, i.weight, month.index, rules) for i in snapshot.indicators}
    unavailable = Level.UNAVAILABLE
    observations, ledger_sums, previous_warnings = (
        snapshot.observations,
        snapshot.ledger_sums,
        snapshot.warnings,
    )

    for unit in snapshot.units:
        applicable = by_category.get(unit.category)
        if applicable is None:
            applicable = [i for i in snapshot.indicators if unit.category in i.categories]
            by_category[unit.category] = applicable
        for indicator in applicable:
            key = (unit.id, indicator.id)
            observation = observations.get(key, MISSING)
            a = assessors[indicator.id](observation)
            results.append(CellResult(unit.id, indicator.id, a))
            if a.level is unavailable:
                continue  # never the unit's failing: the ledger keeps its sum
            assessed_units.add(unit.id)
            if a.is_red:
                red_units.add(unit.id)
            before = ledger_sums.get(key, ZERO)
            if books_ledger and (change := plan_entry(before, a.pre_deduction)) is not None:
                deductions.append(
                    DeductionBooking(unit.id, indicator.id, change, a.level, a.completion)
                )
            previous = previous_warnings.get(key)
            if a.warning and (previous is None or previous.level != a.level.value):
                warnings.append(
                    WarningBooking(
                        unit.id,
                        indicator.id,
                        a.level,
                        a,
                        corrects_id=previous.id if previous else None,
                    )
                )
            elif not a.warning and previous is not None and previous.level != a.level.value:
                # A state that was orange/red is no longer: a correcting entry says so.
                warnings.append(WarningBooking(unit.id, indicator.id, a.level, a, previous.id))

    negative_events = _negative_events(snapshot, assessed_units, red_units)

    return MonthlyPlan(
        month=month,
        results=tuple(results),
        deductions=tuple(deductions),
        warnings=tuple(warnings),
        negative_events=tuple(negative_events),
        books_ledger=books_ledger,
        red_units=frozenset(red_units),
    )


def _negative_events(
    snapshot: MonthSnapshot, assessed: set[int], red: set[int]
) -> list[NegativeEvent]:
    """The month's negative-list events and, when later months are analysed (a rerun or a
    late month), the corrections that keep their list what their red flags say.

    A unit none of whose cells could be assessed has the month passed over: it neither
    goes on the list nor comes off."""
    month = snapshot.month
    by_unit: dict[int, list[NegativeEventRow]] = {}
    if snapshot.negative_events is None:
        before = month.previous().key
        for unit_id in snapshot.on_negative_list:
            by_unit[unit_id] = [NegativeEventRow(0, before, unit_id, "on")]
    else:
        for e in snapshot.negative_events:
            by_unit.setdefault(e.unit_id, []).append(e)
    out: list[NegativeEvent] = []
    for unit in snapshot.units:
        flags = dict(snapshot.red_history.get(unit.id, {}))
        if unit.id not in assessed and not any(k > month.key for k in flags):
            continue
        flags[month.key] = (unit.id in red) if unit.id in assessed else None
        months = sorted(k for k in flags if k >= month.key)
        for period, event in negative_corrections(
            by_unit.get(unit.id, ()), unit.id, flags, months, snapshot.rules
        ):
            out.append(NegativeEvent(unit.id, event, None if period == month.key else period))
    return out
