"""Saving the office's catalog to the database and loading it back.

``save_catalog`` is all-or-nothing and idempotent: it upserts by code, never deletes,
and refuses to change the items, indicators or rules of a frozen year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from models.catalog.content import check_limits
from models.catalog.revision import (
    CatalogChange,
    RevisionRow,
    catalog_as_of,
    unit_difference,
    year_difference,
)
from models.catalog.schema import (
    Catalog,
    CatalogError,
    CatalogProblem,
    IndicatorRow,
    ItemRow,
    Loc,
    Milestone,
    UnitRow,
    YearRow,
    row_fields,
)
from models.persistence.tables import (
    AssessmentYear,
    CatalogRevision,
    Indicator,
    IndicatorLineage,
    Item,
    Unit,
)

UNIT_CONTACT_FIELDS = ("name", "channels")
"""What an import may still change on a unit while a year's cycles run."""

CHANGE_HINT = "assess catalog change 文件 --document 文号 --effective 2026-07"


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], sheet: str) -> None:
        bucket[sheet] = bucket.get(sheet, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def summary(self) -> str:
        parts = []
        for sheet in ("years", "units", "items", "indicators"):
            parts.append(
                f"{sheet}: {self.created.get(sheet, 0)} new, {self.updated.get(sheet, 0)} "
                f"changed, {self.unchanged.get(sheet, 0)} unchanged"
            )
        return "; ".join(parts)


def _apply(row: Any, values: dict[str, Any]) -> bool:
    """Set ``values`` on ``row``; return whether anything changed."""
    if not _would_change(row, values):
        return False
    for name, value in values.items():
        setattr(row, name, value)
    return True


def _plan_json(plan: tuple[Decimal, ...] | None) -> list[str] | None:
    return None if plan is None else [format(v.normalize(), "f") for v in plan]


def _unit_values(u: UnitRow) -> dict[str, Any]:
    return _without(row_fields(u), "code")


def item_values(i: ItemRow) -> dict[str, Any]:
    return _without(row_fields(i), "year", "code")


def indicator_values(i: IndicatorRow, item_id: int) -> dict[str, Any]:
    values = _without(row_fields(i), "year", "code", "item", "merged_into", "adapted_from")
    return {"item_id": item_id, **values, "plan": _plan_json(i.plan)}


def _without(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in names}


def save_catalog(session: Session, catalog: Catalog) -> ImportReport:
    """Upsert the catalog into ``session`` (the caller commits or rolls back).

    Raises ``CatalogError`` naming the rows that would change a frozen year, or
    that break a limit of ``models.catalog.limits`` (checked again here, whatever
    built the catalog).
    """
    limits = check_limits(catalog)
    if limits:
        raise CatalogError(limits)
    report = ImportReport()
    frozen_problems: list[CatalogProblem] = []
    years = {y.year: y for y in session.exec(select(AssessmentYear)).all()}
    frozen_years = {y for y, row in years.items() if row.frozen_at is not None}
    if frozen_years:
        frozen_problems += _frozen_differences(session, catalog, years)

    def frozen(year: int, loc: Loc | None, what: str) -> bool:
        row = years.get(year)
        if row is not None and row.frozen_at is not None:
            assert loc is not None
            frozen_problems.append(
                CatalogProblem(
                    loc,
                    f"year {year} is frozen since its first cycle ran: {what} cannot change "
                    f"(ask for an audited change: {CHANGE_HINT})",
                )
            )
            return True
        return False

    for y in catalog.years:
        existing = years.get(y.year)
        if existing is None:
            existing = AssessmentYear(year=y.year, name=y.name, rules=dict(y.rules))
            session.add(existing)
            years[y.year] = existing
            report.count(report.created, "years")
        elif dict(existing.rules) != dict(y.rules) and frozen(y.year, y.loc, "its rules"):
            continue
        elif _apply(existing, {"name": y.name, "rules": dict(y.rules)}):
            report.count(report.updated, "years")
        else:
            report.count(report.unchanged, "years")

    units = {u.code: u for u in session.exec(select(Unit)).all()}
    running = any(r.frozen_at is not None and r.published_at is None for r in years.values())
    for u in catalog.units:
        unit = units.get(u.code)
        values = _unit_values(u)
        if running:  # category moves go through revisions: the row keeps its base category
            values = {k: v for k, v in values.items() if k in UNIT_CONTACT_FIELDS}
        if unit is None:
            session.add(Unit(code=u.code, **_unit_values(u)))
            report.count(report.created, "units")
        elif _apply(unit, values):
            report.count(report.updated, "units")
        else:
            report.count(report.unchanged, "units")

    if frozen_problems:
        raise CatalogError(frozen_problems)
    items = {(i.year, i.code): i for i in session.exec(select(Item)).all()}
    for it in (i for i in catalog.items if i.year not in frozen_years):
        item = items.get((it.year, it.code))
        if item is None:
            if frozen(it.year, it.loc, f"item {it.code!r} cannot be added"):
                continue
            item = Item(year=it.year, code=it.code, **item_values(it))
            session.add(item)
            items[(it.year, it.code)] = item
            report.count(report.created, "items")
        elif _would_change(item, item_values(it)):
            if frozen(it.year, it.loc, f"item {it.code!r}"):
                continue
            _apply(item, item_values(it))
            report.count(report.updated, "items")
        else:
            report.count(report.unchanged, "items")
    session.flush()

    indicators = {(i.year, i.code): i for i in session.exec(select(Indicator)).all()}
    open_indicators = [i for i in catalog.indicators if i.year not in frozen_years]
    for ind in open_indicators:
        item_id = items[(ind.year, ind.item)].id
        assert item_id is not None
        values = indicator_values(ind, item_id)
        indicator = indicators.get((ind.year, ind.code))
        if indicator is None:
            if frozen(ind.year, ind.loc, f"indicator {ind.code!r} cannot be added"):
                continue
            indicator = Indicator(year=ind.year, code=ind.code, **values)
            session.add(indicator)
            indicators[(ind.year, ind.code)] = indicator
            report.count(report.created, "indicators")
        elif _would_change(indicator, values):
            if frozen(ind.year, ind.loc, f"indicator {ind.code!r}"):
                continue
            _apply(indicator, values)
            report.count(report.updated, "indicators")
        else:
            report.count(report.unchanged, "indicators")
    if frozen_problems:
        raise CatalogError(frozen_problems)
    session.flush()

    existing_edges = {
        (e.indicator_id, e.source_id, e.relation)
        for e in session.exec(select(IndicatorLineage)).all()
    }
    for ind in open_indicators:
        indicator = indicators[(ind.year, ind.code)]
        merged_into = indicators[(ind.year, ind.merged_into)].id if ind.merged_into else None
        adapted_from = indicators[(ind.year, ind.adapted_from)].id if ind.adapted_from else None
        if _apply(indicator, {"merged_into_id": merged_into, "adapted_from_id": adapted_from}):
            report.count(report.updated, "lineage")
        edges: list[tuple[int | None, int | None, str]] = []
        if merged_into is not None:
            edges.append((merged_into, indicator.id, "merged_from"))
        if adapted_from is not None:
            edges.append((indicator.id, adapted_from, "adapted_from"))
        for target_id, source_id, relation in edges:
            assert target_id is not None and source_id is not None
            if (target_id, source_id, relation) not in existing_edges:
                session.add(
                    IndicatorLineage(indicator_id=target_id, source_id=source_id, relation=relation)
                )
                existing_edges.add((target_id, source_id, relation))
    session.flush()
    return report


def _frozen_differences(
    session: Session, catalog: Catalog, years: dict[int, AssessmentYear]
) -> list[CatalogProblem]:
    """Every difference the file makes to a year whose cycles have run (or to the units,
    while such a year is not sealed): refused, pointing to an audited change."""
    current = load_catalog(session)
    file = _file_of(catalog)
    problems: list[CatalogProblem] = []
    changes: list[CatalogChange] = []
    if any(r.frozen_at is not None and r.published_at is None for r in years.values()):
        unit_changes, unit_problems = unit_difference(current, catalog, file, complete=False)
        changes += unit_changes
        problems += unit_problems
    for y in sorted({y.year for y in catalog.years}):
        row = years.get(y)
        if row is None or row.frozen_at is None:
            continue
        year_changes, year_problems = year_difference(current, catalog, y, file, complete=False)
        changes += year_changes
        problems += year_problems
    for change in changes:
        loc = change.loc if change.loc is not None else Loc(file, "units", 0)
        column = change.fields[0] if change.fields else "code"
        problems.append(
            CatalogProblem(
                loc.at(column),
                f"已开始考核的年度不能直接导入改动（{change.describe()}）："
                f"请用经审定的目录修订 {CHANGE_HINT}",
            )
        )
    return problems


def _file_of(catalog: Catalog) -> str:
    for rows in (catalog.years, catalog.units, catalog.items, catalog.indicators):
        for row in rows:
            if row.loc is not None:
                return row.loc.file
    return "catalog"


def _would_change(row: Any, values: dict[str, Any]) -> bool:
    for name, value in values.items():
        current = getattr(row, name)
        if isinstance(value, Decimal) and current is not None:
            if Decimal(current) != value:
                return True
        elif current != value:
            return True
    return False


def load_revisions(session: Session, year: int | None = None) -> list[RevisionRow]:
    """The catalog revisions recorded (of ``year``), in the order recorded."""
    query = select(CatalogRevision).order_by(CatalogRevision.id)  # type: ignore[arg-type]
    if year is not None:
        query = query.where(CatalogRevision.year == year)
    return [
        RevisionRow(
            id=r.id or 0,
            year=r.year,
            document_ref=r.document_ref,
            effective_month=r.effective_month,
            reason=r.reason,
            recorded_by=r.recorded_by,
            recorded_at=r.recorded_at.isoformat(),
            changes=tuple(CatalogChange.from_json(c) for c in r.changes),
        )
        for r in session.exec(query).all()
    ]


def load_catalog(session: Session, as_of: str | None = None) -> Catalog:
    """The whole catalog stored in the database, as plain data: each year's base rows with
    its revisions applied (those effective by month ``as_of``, ``YYYY-MM``, when given)."""
    return catalog_as_of(load_base_catalog(session), load_revisions(session), as_of)


def load_base_catalog(session: Session) -> Catalog:
    """The catalog as imported, before any revision (rows a revision added left out)."""
    years = session.exec(select(AssessmentYear)).all()
    units = session.exec(select(Unit)).all()
    all_items = session.exec(select(Item)).all()
    all_indicators = session.exec(select(Indicator)).all()
    items = [i for i in all_items if i.revision_id is None]
    indicators = [i for i in all_indicators if i.revision_id is None]
    item_codes = {i.id: i.code for i in all_items}
    indicator_codes = {i.id: i.code for i in all_indicators}
    return Catalog(
        years=tuple(YearRow(y.year, y.name, dict(y.rules)) for y in years),
        units=tuple(
            UnitRow(
                code=u.code,
                name=u.name,
                kind=u.kind,
                category=u.category,
                on_platform=u.on_platform,
                onboarded_on=u.onboarded_on,
                channels=tuple(u.channels),
            )
            for u in units
        ),
        items=tuple(
            ItemRow(
                year=i.year,
                code=i.code,
                name=i.name,
                status=i.status,
                key=i.key,
                decided_by=i.decided_by,
                decided_on=i.decided_on,
                document_ref=i.document_ref,
                note=i.note,
            )
            for i in items
        ),
        indicators=tuple(_indicator_row(i, item_codes, indicator_codes) for i in indicators),
    ).sorted()


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value).normalize()


def _indicator_row(
    i: Indicator, item_codes: dict[int | None, str], indicator_codes: dict[int | None, str]
) -> IndicatorRow:
    return IndicatorRow(
        year=i.year,
        code=i.code,
        item=item_codes[i.item_id],
        name=i.name,
        weight=Decimal(i.weight).normalize(),
        direction=i.direction,
        categories=tuple(i.categories),
        target=_dec(i.target),
        baseline=_dec(i.baseline),
        unit_of_measure=i.unit_of_measure,
        plan=None if i.plan is None else tuple(Decimal(v) for v in i.plan),
        milestones=tuple(Milestone(m["name"], int(m["due_month"])) for m in i.milestones),
        source_field=i.source_field,
        lifecycle=i.lifecycle,
        reason=i.reason,
        merged_into=indicator_codes.get(i.merged_into_id) if i.merged_into_id else None,
        adapted_from=indicator_codes.get(i.adapted_from_id) if i.adapted_from_id else None,
    )
