"""Catalog revisions as plain data: the difference between two catalogs, what a revision
may carry, and a year's catalog as of a month (rulebook section 2: items added during
the year after approval; section 3: indicators retired, merged or adapted with lineage).

A year whose first cycle has run changes only through a revision: a dated, audited
difference effective from a month. ``compute_difference`` compares the year's current
catalog with a proposed one and returns the changes it carries and the problems that
forbid it (each with its sheet, row and column, in Chinese). ``catalog_as_of`` applies
the revisions effective by a month to the year's base catalog. Nothing here touches a
database or the clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from models.catalog.limits import MAX_ECHO_CHARS, MAX_REPORTED_PROBLEMS
from models.catalog.schema import (
    Catalog,
    CatalogError,
    CatalogProblem,
    IndicatorRow,
    ItemRow,
    Loc,
    Milestone,
    UnitRow,
    row_fields,
)
from models.catalog.vocabulary import CATEGORY_LABELS, COUNTING_ITEM_STATUSES

ITEM_ADDED = "item_added"
ITEM_CHANGED = "item_changed"
INDICATOR_ADDED = "indicator_added"
INDICATOR_CHANGED = "indicator_changed"
UNIT_MOVED = "unit_moved"
UNIT_PLATFORM = "unit_platform"

CHANGE_LABELS: dict[str, str] = {
    ITEM_ADDED: "新增事项",
    ITEM_CHANGED: "修改事项",
    INDICATOR_ADDED: "新增指标",
    INDICATOR_CHANGED: "修改指标",
    UNIT_MOVED: "单位调整类别",
    UNIT_PLATFORM: "单位平台信息调整",
}

FIELD_LABELS: dict[str, str] = {
    "weight": "分值",
    "target": "目标值",
    "baseline": "基期值",
    "plan": "月度计划",
    "milestones": "节点",
    "categories": "适用类别",
    "lifecycle": "状态",
    "reason": "简化理由",
    "merged_into": "整合到",
    "adapted_from": "变通自",
    "name": "名称",
    "unit_of_measure": "计量单位",
    "source_field": "平台字段",
    "status": "审批状态",
    "key": "重点事项",
    "decided_by": "审批机关",
    "decided_on": "审批日期",
    "document_ref": "文号",
    "note": "备注",
    "category": "类别",
    "on_platform": "纳入平台",
    "onboarded_on": "纳入日期",
}

FIXED_INDICATOR_FIELDS = ("item", "direction")
"""An indicator keeps its item and direction all year: retire it and add another."""

UNIT_FIXED_FIELDS = ("kind",)
"""What a revision may not change on a unit (its name and channels are contact details,
imported as usual; its category is what a revision moves; whether it is on the platform
and since when, a ``UNIT_PLATFORM`` change adjusts from its effective month)."""


@dataclass(frozen=True)
class CatalogChange:
    """One change a revision carries: a row added, changed, or a unit moved.

    ``before`` and ``after`` are the row's fields as JSON values (``row_json``);
    ``fields`` names the fields that differ (empty for an added row).
    """

    kind: str
    code: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any]
    fields: tuple[str, ...] = ()
    loc: Loc | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "before": None if self.before is None else dict(self.before),
            "after": dict(self.after),
            "fields": list(self.fields),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CatalogChange:
        before = data.get("before")
        return cls(
            kind=str(data["kind"]),
            code=str(data["code"]),
            before=None if before is None else dict(before),
            after=dict(data["after"]),
            fields=tuple(data.get("fields", ())),
        )

    def describe(self) -> str:
        """One line in Chinese, e.g. ``修改指标 fai：目标值 12 → 15``."""
        label = CHANGE_LABELS.get(self.kind, self.kind)
        if self.before is None:
            name = self.after.get("name", "")
            return f"{label} {self.code}（{name}）" if name else f"{label} {self.code}"
        parts = [
            f"{FIELD_LABELS.get(f, f)} {_show(self.before.get(f))} → {_show(self.after.get(f))}"
            for f in self.fields
        ]
        return f"{label} {self.code}：" + "；".join(parts)


def _show(value: Any) -> str:
    if value is None or value == "":
        return "（空）"
    if value is True:
        return "是"
    if value is False:
        return "否"
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return "、".join(f"{v.get('name')}({v.get('due_month')}月)" for v in value)
        return "、".join(CATEGORY_LABELS.get(str(v), str(v)) for v in value) or "（空）"
    return CATEGORY_LABELS.get(str(value), str(value))


def row_json(row: UnitRow | ItemRow | IndicatorRow) -> dict[str, Any]:
    """A row's fields as JSON values: decimals as normalized text, dates ISO."""
    out = row_fields(row, number=lambda d: format(d.normalize(), "f"))
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in out.items()}


def item_from_json(data: Mapping[str, Any]) -> ItemRow:
    decided = data.get("decided_on")
    return ItemRow(
        year=int(data["year"]),
        code=str(data["code"]),
        name=str(data["name"]),
        status=str(data["status"]),
        key=bool(data.get("key", False)),
        decided_by=str(data.get("decided_by", "")),
        decided_on=None if not decided else date.fromisoformat(str(decided)),
        document_ref=str(data.get("document_ref", "")),
        note=str(data.get("note", "")),
    )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def indicator_from_json(data: Mapping[str, Any]) -> IndicatorRow:
    plan = data.get("plan")
    weight = _dec(data["weight"])
    assert weight is not None
    return IndicatorRow(
        year=int(data["year"]),
        code=str(data["code"]),
        item=str(data["item"]),
        name=str(data["name"]),
        weight=weight,
        direction=str(data["direction"]),
        categories=tuple(data.get("categories", ())),
        target=_dec(data.get("target")),
        baseline=_dec(data.get("baseline")),
        unit_of_measure=str(data.get("unit_of_measure", "")),
        plan=None if plan is None else tuple(Decimal(str(v)) for v in plan),
        milestones=tuple(
            Milestone(str(m["name"]), int(m["due_month"])) for m in data.get("milestones", ())
        ),
        source_field=str(data.get("source_field", "")),
        lifecycle=str(data.get("lifecycle", "active")),
        reason=str(data.get("reason", "")),
        merged_into=data.get("merged_into") or None,
        adapted_from=data.get("adapted_from") or None,
    )


# ------------------------------------------------------------------------ difference


@dataclass(frozen=True)
class Difference:
    """What a proposed catalog changes in a year, and what forbids it."""

    year: int
    changes: tuple[CatalogChange, ...]
    problems: tuple[CatalogProblem, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def content_hash(self) -> str:
        text = json.dumps([c.to_json() for c in self.changes], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def _problem(loc: Loc | None, column: str | None, message: str, file: str, sheet: str) -> Any:
    where = loc if loc is not None else Loc(file, sheet, 0)
    return CatalogProblem(where.at(column) if column else where, message)


def _differing(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(k for k in after if before.get(k) != after.get(k))


def compute_difference(
    current: Catalog, proposed: Catalog, year: int, file: str, complete: bool = True
) -> Difference:
    """The changes ``proposed`` makes to ``year`` of ``current``, and the problems forbidding
    them. Other years of the file are not compared; units are compared by category (moved)
    and by what a revision may not change (``UNIT_FIXED_FIELDS``). ``complete``: the file
    is the whole catalog, so a row it lacks is a deletion (refused); an import upserts, and
    a row it lacks is left as it is."""
    unit_changes, problems = unit_difference(current, proposed, file, complete)
    year_changes, year_problems = year_difference(current, proposed, year, file, complete)
    current_year = next((y for y in current.years if y.year == year), None)
    for y in proposed.years:
        if (
            y.year == year
            and current_year is not None
            and dict(y.rules) != dict(current_year.rules)
        ):
            year_problems.append(
                _problem(y.loc, "year", f"{year}年度规则已随首个周期冻结，不能修订", file, "rules")
            )
    return Difference(year, (*unit_changes, *year_changes), (*problems, *year_problems))


def unit_difference(
    current: Catalog, proposed: Catalog, file: str, complete: bool = True
) -> tuple[list[CatalogChange], list[CatalogProblem]]:
    """Units moved to another category, and unit changes no revision may make."""
    problems: list[CatalogProblem] = []
    changes = list(_unit_changes(current, proposed, file, problems, complete))
    return changes, problems


def year_difference(
    current: Catalog, proposed: Catalog, year: int, file: str, complete: bool = True
) -> tuple[list[CatalogChange], list[CatalogProblem]]:
    """Items and indicators of ``year`` added or changed, and what forbids them."""
    problems: list[CatalogProblem] = []
    changes = list(_item_changes(current, proposed, year, file, problems, complete))
    changes += _indicator_changes(current, proposed, year, file, problems, complete)
    return changes, problems


def _unit_changes(
    current: Catalog, proposed: Catalog, file: str, problems: list[CatalogProblem], complete: bool
) -> Iterable[CatalogChange]:
    known = {u.code: u for u in current.units}
    listed = {u.code for u in proposed.units}
    for u in proposed.units:
        old = known.get(u.code)
        if old is None:
            problems.append(
                _problem(
                    u.loc, "code", f"未知单位“{u.code}”：年度中途不能新增被考核单位", file, "units"
                )
            )
            continue
        for name in UNIT_FIXED_FIELDS:
            if getattr(old, name) != getattr(u, name):
                problems.append(
                    _problem(
                        u.loc,
                        name,
                        f"单位“{u.code}”的{_UNIT_FIELD_LABELS[name]}不能通过目录修订改变",
                        file,
                        "units",
                    )
                )
        platform = _differing(_platform_json(old), _platform_json(u))
        if platform:
            before, after = _platform_json(old), _platform_json(u)
            yield CatalogChange(UNIT_PLATFORM, u.code, before, after, platform, u.loc)
        if old.category != u.category:
            yield CatalogChange(
                UNIT_MOVED,
                u.code,
                {"category": old.category},
                {"category": u.category},
                ("category",),
                u.loc,
            )
    for code in sorted(set(known) - listed) if complete else ():
        problems.append(
            _problem(
                None, "code", f"文件中缺少单位“{code}”：年度中途不能删除被考核单位", file, "units"
            )
        )


_UNIT_FIELD_LABELS = {"kind": "单位类型"}


def _platform_json(unit: UnitRow) -> dict[str, Any]:
    day = None if unit.onboarded_on is None else unit.onboarded_on.isoformat()
    return {"on_platform": unit.on_platform, "onboarded_on": day}


def platform_from_json(data: Mapping[str, Any]) -> tuple[bool, date | None]:
    """A ``UNIT_PLATFORM`` change's (on_platform, onboarded_on)."""
    day = data.get("onboarded_on")
    return bool(data["on_platform"]), None if not day else date.fromisoformat(str(day))


def _item_changes(
    current: Catalog,
    proposed: Catalog,
    year: int,
    file: str,
    problems: list[CatalogProblem],
    complete: bool,
) -> Iterable[CatalogChange]:
    known = {i.code: i for i in current.items if i.year == year}
    listed = set()
    for it in (i for i in proposed.items if i.year == year):
        listed.add(it.code)
        old = known.get(it.code)
        after = row_json(it)
        if old is None:
            if it.status not in COUNTING_ITEM_STATUSES:
                problems.append(
                    _problem(
                        it.loc,
                        "status",
                        f"新增事项“{it.code}”未经审批或报备（状态 {it.status}），不能纳入考核",
                        file,
                        "items",
                    )
                )
            elif not it.document_ref.strip():
                problems.append(
                    _problem(
                        it.loc, "document_ref", f"新增事项“{it.code}”须写明审批文号", file, "items"
                    )
                )
            else:
                yield CatalogChange(ITEM_ADDED, it.code, None, after, (), it.loc)
            continue
        before = row_json(old)
        differing = _differing(before, after)
        if differing:
            yield CatalogChange(ITEM_CHANGED, it.code, before, after, differing, it.loc)
    for code in sorted(set(known) - listed) if complete else ():
        problems.append(
            _problem(None, "code", f"文件中缺少事项“{code}”：事项不能删除，请改状态", file, "items")
        )


def _indicator_changes(
    current: Catalog,
    proposed: Catalog,
    year: int,
    file: str,
    problems: list[CatalogProblem],
    complete: bool,
) -> Iterable[CatalogChange]:
    known = {i.code: i for i in current.indicators if i.year == year}
    listed = set()
    for ind in (i for i in proposed.indicators if i.year == year):
        listed.add(ind.code)
        old = known.get(ind.code)
        after = row_json(ind)
        if old is None:
            yield CatalogChange(INDICATOR_ADDED, ind.code, None, after, (), ind.loc)
            continue
        before = row_json(old)
        differing = _differing(before, after)
        fixed = [f for f in FIXED_INDICATOR_FIELDS if f in differing]
        for name in fixed:
            label = "所属事项" if name == "item" else "方向"
            problems.append(
                _problem(
                    ind.loc,
                    name,
                    f"指标“{ind.code}”的{label}年度中途不能改变：请将其简化停用并新增指标",
                    file,
                    "indicators",
                )
            )
        if differing and not fixed:
            yield CatalogChange(INDICATOR_CHANGED, ind.code, before, after, differing, ind.loc)
    for code in sorted(set(known) - listed) if complete else ():
        problems.append(
            _problem(
                None,
                "code",
                f"文件中缺少指标“{code}”：指标不能删除，请将状态改为简化（simplified）并写明理由",
                file,
                "indicators",
            )
        )


# --------------------------------------------------------------------- the timeline


@dataclass(frozen=True)
class RevisionRow:
    """A stored revision as plain data."""

    id: int
    year: int
    document_ref: str
    effective_month: str
    reason: str
    recorded_by: str
    recorded_at: str
    changes: tuple[CatalogChange, ...]


def check_effective(
    year: int,
    effective_month: str,
    frozen: bool,
    sealed: bool,
    revisions: Sequence[RevisionRow],
) -> list[str]:
    """Why a revision of ``year`` effective from ``effective_month`` (``YYYY-MM``) may not
    be recorded (Chinese, one line each; empty when it may)."""
    out: list[str] = []
    if int(effective_month[:4]) != year:
        out.append(f"生效月份 {effective_month} 不在 {year} 年度内（1 至 12 月）")
    if sealed:
        out.append(f"{year}年度考核结果已公布（封账），目录不能再修订")
    elif not frozen:
        out.append(f"{year}年度尚未开始考核，目录可直接导入：assess catalog import 文件")
    latest = max((r.effective_month for r in revisions if r.year == year), default=None)
    if latest is not None and effective_month < latest:
        out.append(
            f"生效月份 {effective_month} 早于已有修订的生效月份 {latest}：修订按月份先后记录"
        )
    return out


def apply_changes(catalog: Catalog, year: int, changes: Iterable[CatalogChange]) -> Catalog:
    """``catalog`` with ``changes`` applied to ``year`` (rows replaced or added by code)."""
    units = {u.code: u for u in catalog.units}
    items = {(i.year, i.code): i for i in catalog.items}
    indicators = {(i.year, i.code): i for i in catalog.indicators}
    for change in changes:
        if change.kind == UNIT_MOVED and change.code in units:
            units[change.code] = replace(units[change.code], category=change.after["category"])
        elif change.kind == UNIT_PLATFORM and change.code in units:
            on, day = platform_from_json(change.after)
            units[change.code] = replace(units[change.code], on_platform=on, onboarded_on=day)
        elif change.kind in (ITEM_ADDED, ITEM_CHANGED):
            items[(year, change.code)] = item_from_json(change.after)
        elif change.kind in (INDICATOR_ADDED, INDICATOR_CHANGED):
            indicators[(year, change.code)] = indicator_from_json(change.after)
    return Catalog(
        years=catalog.years,
        units=tuple(units.values()),
        items=tuple(items.values()),
        indicators=tuple(indicators.values()),
    ).sorted()


def catalog_as_of(
    base: Catalog, revisions: Sequence[RevisionRow], month: str | None = None
) -> Catalog:
    """The catalog as it stood for ``month`` (``YYYY-MM``; None: with every revision):
    each year's base rows with its revisions effective by that month applied, in the
    order recorded. A unit's category moves only with revisions of ``month``'s year."""
    catalog = base
    year = None if month is None else int(month[:4])
    for revision in sorted(revisions, key=lambda r: r.id):
        if month is not None and revision.effective_month > month:
            continue
        changes: Iterable[CatalogChange] = revision.changes
        if year is not None and revision.year != year:
            changes = [c for c in revision.changes if c.kind not in (UNIT_MOVED, UNIT_PLATFORM)]
        catalog = apply_changes(catalog, revision.year, changes)
    return catalog


@dataclass(frozen=True)
class MonthOverlay:
    """What a year's revisions change for one month (``overlay_for``): indicators
    replaced or added (by code), units moved (code → category), and the revisions not yet
    effective (their added rows are not assessed that month); ``unit_platform``: units
    whose platform facts a revision adjusted (code → (on_platform, onboarded_on))."""

    indicators: Mapping[str, IndicatorRow]
    unit_categories: Mapping[str, str]
    not_yet: frozenset[int]
    unit_platform: Mapping[str, tuple[bool, date | None]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.indicators or self.unit_categories or self.not_yet or self.unit_platform)


def overlay_for(revisions: Sequence[RevisionRow], year: int, month: str | None) -> MonthOverlay:
    """The overlay of ``year``'s revisions effective by ``month`` (None: every revision)."""
    indicators: dict[str, IndicatorRow] = {}
    categories: dict[str, str] = {}
    platform: dict[str, tuple[bool, date | None]] = {}
    not_yet: set[int] = set()
    for revision in sorted(revisions, key=lambda r: r.id):
        if revision.year != year:
            continue
        if month is not None and revision.effective_month > month:
            not_yet.add(revision.id)
            continue
        for change in revision.changes:
            if change.kind in (INDICATOR_ADDED, INDICATOR_CHANGED):
                indicators[change.code] = indicator_from_json(change.after)
            elif change.kind == UNIT_MOVED:
                categories[change.code] = str(change.after["category"])
            elif change.kind == UNIT_PLATFORM:
                platform[change.code] = platform_from_json(change.after)
    return MonthOverlay(indicators, categories, frozenset(not_yet), platform)


def where_zh(loc: Loc) -> str:
    """A location in Chinese: ``修订.xlsx 工作表 items 第 19 行 status 列（E）``."""
    if loc.yaml:
        where = f"{loc.file} 节 {loc.sheet}" + (f" 第 {loc.row} 条" if loc.row else "")
        return where + (f" 字段 {loc.column}" if loc.column else "")
    where = f"{loc.file} 工作表 {loc.sheet}" + (f" 第 {loc.row} 行" if loc.row else "")
    if loc.column:
        where += f" {loc.column} 列" + (f"（{loc.letter}）" if loc.letter else "")
    return where


class CatalogChangeRefused(CatalogError):
    """A catalog revision refused: every problem with its location, in Chinese."""

    def __init__(self, problems: Sequence[CatalogProblem]) -> None:
        super().__init__(problems)
        shown = self.problems[:MAX_REPORTED_PROBLEMS]
        lines = [f"  - {where_zh(p.loc)}：{p.message}"[: MAX_ECHO_CHARS + 80] for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  - ……另有 {len(self.problems) - len(shown)} 处问题未列出")
        self.args = (
            f"目录修订未记录：共 {len(self.problems)} 处问题，数据库未改变。\n" + "\n".join(lines),
        )
