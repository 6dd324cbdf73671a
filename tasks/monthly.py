"""Gathering a month's snapshot from the database and applying a monthly plan to it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, delete, func, select, true
from sqlmodel import Session

from models.catalog.revision import overlay_for
from models.catalog.vocabulary import ASSESSED_LIFECYCLES
from models.persistence.tables import (
    DeductionEntry,
    Indicator,
    MonthlyAssessment,
    NegativeListEntry,
    ProgressRecord,
    UnavailableValue,
    Unit,
    WarningEntry,
    columns_of,
    table_of,
)
from models.plans.as_of import NegativeEventRow, negative_list_as_of
from models.plans.monthly import (
    ChosenVersion,
    IndicatorSnap,
    MonthlyPlan,
    MonthSnapshot,
    RecordVersion,
    UnitSnap,
    WarningState,
    cell_observations,
)
from models.rules import (
    Direction,
    IndicatorSpec,
    Level,
    Period,
    WorkCalendar,
)
from tasks.bulk import (
    DEDUCTION_COLUMNS,
    NEGATIVE_COLUMNS,
    WARNING_COLUMNS,
    bulk_insert,
    parse_decimal,
    parse_time,
)
from tasks.catalog import indicator_values, load_revisions
from tasks.year_rules import load_year_rules, require_catalog_year

UNIT = columns_of(Unit)
IND = columns_of(Indicator)
PROG = columns_of(ProgressRecord)
UNAV = columns_of(UnavailableValue)
DED = columns_of(DeductionEntry)
WARN = columns_of(WarningEntry)
MA = columns_of(MonthlyAssessment)
NEG = columns_of(NegativeListEntry)


UnitRange = tuple[int, int] | None
"""An inclusive range of unit ids (a batch of units), or None for every unit."""


def _in_range(column: Any, units: UnitRange) -> Any:
    return true() if units is None else column.between(units[0], units[1])


def unit_batches(session: Session, size: int) -> list[tuple[int, int]]:
    """Unit ids in consecutive ranges of at most ``size`` units: the cycles' units of work."""
    ids = [i for (i,) in session.execute(select(UNIT.id).order_by(UNIT.id))]
    return [
        (chunk[0], chunk[-1]) for chunk in (ids[k : k + size] for k in range(0, len(ids), size))
    ]


def load_units(
    session: Session, units: UnitRange = None, month: Period | None = None
) -> list[UnitSnap]:
    """The units (of one batch); with ``month``, each in its category and on the platform
    or not as of that month (a catalog revision may move a unit, or adjust its platform
    facts, from its effective month on)."""
    rows = session.execute(
        select(UNIT.id, UNIT.code, UNIT.name, UNIT.category, UNIT.on_platform)
        .where(_in_range(UNIT.id, units))
        .order_by(UNIT.code)
    )
    moved: Mapping[str, str] = {}
    platform: Mapping[str, tuple[bool, Any]] = {}
    if month is not None:
        overlay = overlay_for(load_revisions(session, month.year), month.year, month.key)
        moved, platform = overlay.unit_categories, overlay.unit_platform
    return [
        UnitSnap(i, c, n, moved.get(c, cat), platform.get(c, (bool(on), None))[0])
        for i, c, n, cat, on in rows
    ]


def indicator_spec(row: Indicator) -> IndicatorSpec:
    direction = Direction(row.direction)
    if direction is Direction.INCREASE:
        plan = None if row.plan is None else tuple(Decimal(v) for v in row.plan)
        return IndicatorSpec(direction, target=row.target, plan=plan)
    if direction is Direction.DECREASE:
        return IndicatorSpec(direction, target=row.target, baseline=row.baseline)
    return IndicatorSpec(direction, milestones=tuple(int(m["due_month"]) for m in row.milestones))


def load_indicators(
    session: Session, year: int, month: Period | None = None
) -> list[IndicatorSnap]:
    """The indicators assessed in ``year`` (active or adapted): as of ``month`` when given
    (catalog revisions effective by then), else with every revision of the year."""
    overlay = overlay_for(load_revisions(session, year), year, None if month is None else month.key)
    query = select(Indicator).where(IND.year == year).order_by(IND.code)
    if overlay.empty:
        query = query.where(IND.lifecycle.in_(ASSESSED_LIFECYCLES))
    out = []
    for stored in session.execute(query).scalars():
        if stored.revision_id is not None and stored.revision_id in overlay.not_yet:
            continue
        revised = overlay.indicators.get(stored.code)
        row = stored
        if revised is not None:
            row = Indicator(
                id=stored.id,
                year=year,
                code=stored.code,
                **indicator_values(revised, stored.item_id),
            )
        if row.lifecycle not in ASSESSED_LIFECYCLES:
            continue
        assert row.id is not None
        out.append(
            IndicatorSnap(
                id=row.id,
                code=row.code,
                name=row.name,
                weight=Decimal(row.weight),
                spec=indicator_spec(row),
                categories=frozenset(row.categories),
                unit_of_measure=row.unit_of_measure,
            )
        )
    return out


def load_versions(session: Session, month: Period, units: UnitRange = None) -> list[RecordVersion]:
    """The month's stored record versions (read raw: this is the month's biggest read)."""
    conn = session.connection()
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = (
        "SELECT unit_id, indicator_id, record_id, value, status, updated_at, reported_at "
        f"FROM {table_of(ProgressRecord).name} WHERE period = {mark}"
    )
    params: tuple[Any, ...] = (month.key,)
    if units is not None:
        sql += f" AND unit_id BETWEEN {mark} AND {mark}"
        params += units
    return [
        RecordVersion(u, i, rid, parse_decimal(v), status, updated, parse_time(reported))
        for u, i, rid, v, status, updated_raw, reported in conn.exec_driver_sql(sql, params).all()
        if (updated := parse_time(updated_raw)) is not None
    ]


def load_chosen_versions(
    session: Session, month: Period, cutoff: datetime, units: UnitRange = None
) -> dict[tuple[int, int], ChosenVersion]:
    """``choose_versions`` done by the database: one row per (unit, indicator) instead of
    every stored version, and no timestamps to read back."""
    mark = "?" if session.connection().dialect.name == "sqlite" else "%s"
    on_time = f"updated_at <= {mark}"
    sql = (
        "SELECT unit_id, indicator_id, status, value FROM ("
        " SELECT unit_id, indicator_id, status, value, ROW_NUMBER() OVER ("
        "  PARTITION BY unit_id, indicator_id"
        f"  ORDER BY CASE WHEN {on_time} THEN 0 ELSE 1 END, updated_at DESC,"
        f"  CASE WHEN {on_time} THEN record_id END DESC, id) AS pick"
        f" FROM {table_of(ProgressRecord).name}"
        f" WHERE period = {mark} AND status <> 'draft'"
        f" AND ({on_time} OR reported_at <= {mark})"
    )
    bound = _bound_time(session, cutoff)
    params: tuple[Any, ...] = (bound, bound, month.key, bound, bound)
    if units is not None:
        sql += f" AND unit_id BETWEEN {mark} AND {mark}"
        params += units
    sql += ") chosen WHERE pick = 1"
    rows = session.connection().exec_driver_sql(sql, params).all()
    return {(u, i): (status, parse_decimal(v)) for u, i, status, v in rows}


def _bound_time(session: Session, value: datetime) -> Any:
    """``value`` as a ``UTCDateTime`` column binds it on this backend."""
    dialect = session.connection().dialect
    return table_of(ProgressRecord).c.updated_at.type.bind_processor(dialect)(value)  # type: ignore[misc]


def load_unavailable(session: Session, month: Period) -> tuple[bool, frozenset[int]]:
    """Whether the platform was down for the whole month, and units it failed for."""
    rows = session.execute(
        select(UNAV.unit_id).where(
            UNAV.period == month.key,
            UNAV.resolved_at.is_(None),
        )
    ).all()
    down = any(unit_id is None for (unit_id,) in rows)
    return down, frozenset(unit_id for (unit_id,) in rows if unit_id is not None)


def load_ledger_sums(
    session: Session, year: int, units: UnitRange = None, through: str | None = None
) -> dict[tuple[int, int], Decimal]:
    """Each (unit, indicator)'s ledger sum in ``year``; with ``through`` (a month key),
    as of that month: entries of valid month ``through`` or earlier only
    (``models.plans.as_of.ledger_sums_as_of``)."""
    as_of = true() if through is None else DED.period <= through
    rows = session.execute(
        select(DED.unit_id, DED.indicator_id, func.sum(DED.amount))
        .where(DED.year == year, _in_range(DED.unit_id, units), as_of)
        .group_by(DED.unit_id, DED.indicator_id)
    )
    return {(u, i): Decimal(s).quantize(Decimal("0.01")) for u, i, s in rows}


def load_warning_states(
    session: Session, month: Period, units: UnitRange = None
) -> dict[tuple[int, int], WarningState]:
    rows = session.execute(
        select(WARN.id, WARN.unit_id, WARN.indicator_id, WARN.level)
        .where(WARN.period == month.key, _in_range(WARN.unit_id, units))
        .order_by(WARN.id)
    )
    return {(u, i): WarningState(id_, level) for id_, u, i, level in rows}


def load_red_history(
    session: Session, month: Period, units: UnitRange = None
) -> dict[int, dict[str, bool | None]]:
    """Per unit, whether each of the 12 months before ``month``, and each analysed month
    after it in its year, had a red indicator; None for a month none of whose cells
    could be assessed (unavailable: passed over by the negative list)."""
    months = [Period.month(month.year, i).key for i in range(month.index + 1, 13)]
    m = month
    for _ in range(12):
        m = m.previous()
        months.append(m.key)
    red = [Level.RED.value, Level.MISSING.value]
    assessed = case((MA.level != Level.UNAVAILABLE.value, 1), else_=0)
    rows = session.execute(
        select(
            MA.unit_id,
            MA.period,
            func.max(case((MA.level.in_(red), 1), else_=0)),
            func.max(assessed),
        )
        .where(MA.period.in_(months), _in_range(MA.unit_id, units))
        .group_by(MA.unit_id, MA.period)
    )
    history: dict[int, dict[str, bool | None]] = defaultdict(dict)
    for unit_id, period, has_red, any_assessed in rows:
        history[unit_id][period] = bool(has_red) if any_assessed else None
    return dict(history)


def load_negative_events(
    session: Session, units: UnitRange = None, through: str | None = None
) -> list[NegativeEventRow]:
    """The units' negative-list events (of valid month ``through`` or earlier), in booking
    order."""
    as_of = true() if through is None else NEG.period <= through
    rows = session.execute(
        select(NEG.id, NEG.period, NEG.unit_id, NEG.event)
        .where(_in_range(NEG.unit_id, units), as_of)
        .order_by(NEG.id)
    )
    return [NegativeEventRow(i, p, u, e) for i, p, u, e in rows]


def load_negative_list(
    session: Session, units: UnitRange = None, through: str | None = None
) -> frozenset[int]:
    """Units on the negative list at the end of month ``through`` (by valid month:
    ``models.plans.as_of.negative_list_as_of``); without it, of the latest month booked."""
    events = load_negative_events(session, units, through)
    last = max((e.period for e in events), default="")
    return negative_list_as_of(events, through or last)


def load_year_settled(session: Session, year: int) -> bool:
    """Whether the annual settlement of ``year`` is booked (a ``final`` ledger entry)."""
    found = session.execute(
        select(DED.id).where(DED.year == year, DED.stage == "final").limit(1)
    ).first()
    return found is not None


def load_latest_analysed_month(session: Session, year: int, month: Period) -> Period | None:
    """The latest month of ``year`` other than ``month`` already analysed.

    Two range maxima on the (period, ...) index, one each side of ``month``: an index
    lookup each, where ``period != month`` made the database step over the month's own
    rows (a million in a province) for every batch.
    """
    first, last = Period.month(year, 1).key, Period.month(year, 12).key
    sides = (
        select(func.max(MA.period)).where(MA.period >= first, MA.period < month.key),
        select(func.max(MA.period)).where(MA.period > month.key, MA.period <= last),
    )
    found = [p for side in sides if (p := session.execute(side).scalar_one_or_none())]
    return Period.parse(max(found)) if found else None


def load_month_snapshot(
    session: Session, month: Period, calendar: WorkCalendar, batch: UnitRange = None
) -> MonthSnapshot:
    """Everything the month's plan needs, for every unit or one batch of units."""
    require_catalog_year(session, month.year)
    rules = load_year_rules(session, month.year)
    units = load_units(session, batch, month)
    indicators = load_indicators(session, month.year, month)
    down, unavailable = load_unavailable(session, month)
    observations = cell_observations(
        units,
        indicators,
        load_chosen_versions(session, month, calendar.upload_cutoff(month, rules), batch),
        unavailable,
        platform_down=down,
    )
    return MonthSnapshot(
        month=month,
        rules=rules,
        units=units,
        indicators=indicators,
        observations=observations,
        ledger_sums=load_ledger_sums(session, month.year, batch, through=month.key),
        warnings=load_warning_states(session, month, batch),
        red_history=load_red_history(session, month, batch),
        latest_booked_month=load_latest_analysed_month(session, month.year, month),
        deadline=calendar.upload_deadline(month, rules),
        negative_events=load_negative_events(session, batch),
        year_settled=load_year_settled(session, month.year),
    )


def save_month_plan(
    session: Session,
    plan: MonthlyPlan,
    run_id: int | None,
    now: datetime,
    batch: UnitRange = None,
    revision_id: int | None = None,
) -> None:
    """Append the plan's ledger entries and store the month's assessments (one batch each).

    ``revision_id``: the entries are a recomputation's after that catalog revision (they
    name it, and carry a note saying so)."""
    month = plan.month
    note = "" if revision_id is None else f"目录修订 #{revision_id} 重新核算"
    year, key = month.year, month.key  # hoisted: Period.key is computed on each access
    conn = session.connection()
    bulk_insert(
        conn,
        table_of(DeductionEntry),
        DEDUCTION_COLUMNS,
        (
            (
                year,
                key,
                d.unit_id,
                d.indicator_id,
                d.change.kind.value,
                "pre",
                d.change.amount,
                d.level.value,
                d.completion,
                run_id,
                None,
                None,
                revision_id,
                now,
                note,
            )
            for d in plan.deductions
        ),
    )
    bulk_insert(
        conn,
        table_of(WarningEntry),
        WARNING_COLUMNS,
        (
            (
                key,
                w.unit_id,
                w.indicator_id,
                w.level.value,
                w.assessment.completion,
                w.assessment.expected,
                w.assessment.actual,
                run_id,
                w.corrects_id,
                None,
                revision_id,
                now,
            )
            for w in plan.warnings
        ),
    )
    bulk_insert(
        conn,
        table_of(NegativeListEntry),
        NEGATIVE_COLUMNS,
        (
            (e.period or key, e.unit_id, e.event, run_id, None, revision_id, now)
            for e in plan.negative_events
        ),
    )
    session.execute(
        delete(MonthlyAssessment).where(MA.period == month.key, _in_range(MA.unit_id, batch))
    )
    bulk_insert(
        conn,
        table_of(MonthlyAssessment),
        (
            "year",
            "period",
            "unit_id",
            "indicator_id",
            "level",
            "expected",
            "actual",
            "completion",
            "pre_deduction",
            "cycle_run_id",
            "computed_at",
        ),
        (
            (
                year,
                key,
                r.unit_id,
                r.indicator_id,
                r.assessment.level.value,
                r.assessment.expected,
                r.assessment.actual,
                r.assessment.completion,
                r.assessment.pre_deduction,
                run_id,
                now,
            )
            for r in plan.results
        ),
    )
