"""The catalog as plain data, parsed from sheet rows and checked as a whole.

Readers (``tasks.files.catalog_read``) turn an XLSX or YAML file into ``RawCatalog``:
rows of cells with their locations. ``parse_catalog`` turns that into a ``Catalog``
and every problem found, each naming file, sheet, row and column. Nothing here
touches a database.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from typing import Any

from models.catalog.limits import MAX_ECHO_CHARS, MAX_REPORTED_PROBLEMS
from models.catalog.vocabulary import (
    CATEGORY_LABELS,
    COUNTING_ITEM_STATUSES,
    LIFECYCLE_LABELS,
    SIMPLIFICATION_REASONS,
)

SHEETS: tuple[str, ...] = ("years", "rules", "units", "items", "indicators")

COLUMNS: dict[str, tuple[str, ...]] = {
    "years": ("year", "name"),
    "rules": ("year", "key", "value"),
    "units": ("code", "name", "kind", "category", "on_platform", "onboarded_on", "channels"),
    "items": (
        "year",
        "code",
        "name",
        "key",
        "status",
        "decided_by",
        "decided_on",
        "document_ref",
        "note",
    ),
    "indicators": (
        "year",
        "code",
        "item",
        "name",
        "weight",
        "direction",
        "target",
        "baseline",
        "unit_of_measure",
        "plan",
        "milestones",
        "categories",
        "source_field",
        "lifecycle",
        "reason",
        "merged_into",
        "adapted_from",
    ),
}
REQUIRED: dict[str, frozenset[str]] = {
    "years": frozenset({"year"}),
    "rules": frozenset({"year", "key", "value"}),
    "units": frozenset({"code", "name", "kind", "category"}),
    "items": frozenset({"year", "code", "name", "status"}),
    "indicators": frozenset(
        {"year", "code", "item", "name", "weight", "direction", "categories", "lifecycle"}
    ),
}

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "是", "√"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "否", ""})


@dataclass(frozen=True)
class Loc:
    """Where a value came from: file, sheet, row (XLSX row number or YAML entry), column."""

    file: str
    sheet: str
    row: int
    column: str | None = None
    letter: str | None = None
    yaml: bool = False

    def at(self, column: str) -> Loc:
        letter = None
        if not self.yaml and column in COLUMNS.get(self.sheet, ()):
            letter = _column_letter(COLUMNS[self.sheet].index(column))
        return Loc(self.file, self.sheet, self.row, column, letter, self.yaml)

    def __str__(self) -> str:
        where = f"{self.file}, {'section' if self.yaml else 'sheet'} {self.sheet}, "
        where += f"{'entry' if self.yaml else 'row'} {self.row}"
        if self.column:
            where += f", column {self.column}"
            if self.letter:
                where += f" ({self.letter})"
        return where


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass(frozen=True)
class CatalogProblem:
    loc: Loc
    message: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.message}"


class CatalogError(Exception):
    """A catalog file was refused; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[CatalogProblem]) -> None:
        self.problems = list(problems)
        shown = [_cut(str(p)) for p in self.problems[:MAX_REPORTED_PROBLEMS]]
        lines = "\n".join(f"  - {line}" for line in shown)
        if len(self.problems) > len(shown):
            lines += f"\n  - ……另有 {len(self.problems) - len(shown)} 处问题未列出"
        super().__init__(f"catalog refused, {len(self.problems)} problem(s):\n{lines}")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "…"


@dataclass(frozen=True)
class RawRow:
    loc: Loc
    cells: Mapping[str, Any]
    refused: frozenset[str] = frozenset()
    """Columns the reader already refused (and reported): parsed as failed, silently."""


@dataclass(frozen=True)
class RawCatalog:
    """Rows per sheet as read from a file, before any checking."""

    file: str
    sheets: Mapping[str, Sequence[RawRow]]
    problems: Sequence[CatalogProblem] = ()


@dataclass(frozen=True)
class YearRow:
    year: int
    name: str = ""
    rules: Mapping[str, Any] = field(default_factory=dict)
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    kind: str
    category: str
    on_platform: bool = False
    onboarded_on: date | None = None
    channels: tuple[str, ...] = ()
    loc: Loc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ItemRow:
    year: int
    code: str
    name: str
    status: str
    key: bool = False
    decided_by: str = ""
    decided_on: date | None = None
    document_ref: str = ""
    note: str = ""
    loc: Loc | None = field(default=None, compare=False, repr=False)

    @property
    def counts(self) -> bool:
        """Only an approved or filed item reaches a cycle."""
        return self.status in COUNTING_ITEM_STATUSES


@dataclass(frozen=True)
class Milestone:
    name: str
    due_month: int


@dataclass(frozen=True)
class IndicatorRow:
    year: int
    code: str
    item: str
    name: str
    weight: Decimal
    direction: str
    categories: tuple[str, ...]
    target: Decimal | None = None
    baseline: Decimal | None = None
    unit_of_measure: str = ""
    plan: tuple[Decimal, ...] | None = None
    milestones: tuple[Milestone, ...] = ()
    source_field: str = ""
    lifecycle: str = "active"
    reason: str = ""
    merged_into: str | None = None
    adapted_from: str | None = None
    loc: Loc | None = field(default=None, compare=False, repr=False)


def row_fields(
    row: UnitRow | ItemRow | IndicatorRow, number: Callable[[Decimal], Any] = lambda d: d
) -> dict[str, Any]:
    """A row's catalog fields as plain values, in ``COLUMNS`` order: tuples as lists,
    milestones as ``{"name", "due_month"}``, each decimal through ``number`` (the
    export and the database each want their own number form); ``loc`` left out."""
    out: dict[str, Any] = {}
    for f in fields(row):
        if f.name == "loc":
            continue
        value = getattr(row, f.name)
        if isinstance(value, Decimal):
            value = number(value)
        elif isinstance(value, tuple):
            value = [
                {"name": v.name, "due_month": v.due_month}
                if isinstance(v, Milestone)
                else number(v)
                if isinstance(v, Decimal)
                else v
                for v in value
            ]
        out[f.name] = value
    return out


@dataclass(frozen=True)
class Catalog:
    years: tuple[YearRow, ...] = ()
    units: tuple[UnitRow, ...] = ()
    items: tuple[ItemRow, ...] = ()
    indicators: tuple[IndicatorRow, ...] = ()

    def sorted(self) -> Catalog:
        """The same catalog in a canonical order (for comparisons and exports)."""
        return Catalog(
            years=tuple(sorted(self.years, key=lambda y: y.year)),
            units=tuple(sorted(self.units, key=lambda u: u.code)),
            items=tuple(sorted(self.items, key=lambda i: (i.year, i.code))),
            indicators=tuple(sorted(self.indicators, key=lambda i: (i.year, i.code))),
        )


# ----------------------------------------------------------------------------- cells


def indicator_shape_problems(ind: IndicatorRow) -> Iterable[tuple[str, str]]:
    """Problems visible on the row alone."""
    if ind.weight <= 0:
        yield "weight", f"weight must be positive, got {ind.weight}"
    if ind.direction not in ("increase", "decrease", "milestone"):
        yield "direction", f"unknown direction {ind.direction!r} (increase, decrease, milestone)"
    for category in ind.categories:
        if category not in CATEGORY_LABELS:
            yield "categories", f"unknown category {category!r}"
    if ind.lifecycle not in LIFECYCLE_LABELS:
        yield "lifecycle", f"unknown lifecycle {ind.lifecycle!r} ({', '.join(LIFECYCLE_LABELS)})"
    if ind.direction == "increase":
        if ind.target is None:
            yield "target", "an increase indicator needs a target"
        if ind.plan is not None:
            if len(ind.plan) != 12:
                yield "plan", f"a monthly plan has 12 values, got {len(ind.plan)}"
            elif any(b < a for a, b in zip(ind.plan, ind.plan[1:], strict=False)):
                yield "plan", "a monthly plan is cumulative and must never go down"
    elif ind.plan is not None:
        yield "plan", "only an increase indicator takes a monthly plan"
    if ind.direction == "decrease":
        if ind.baseline is None or ind.target is None:
            yield "baseline", "a decrease indicator needs a baseline and a target"
        elif ind.target >= ind.baseline:
            yield "target", f"target {ind.target} must be below baseline {ind.baseline}"
    if ind.direction == "milestone":
        if not ind.milestones:
            yield "milestones", "a milestone indicator needs at least one milestone"
        for m in ind.milestones:
            if not 1 <= m.due_month <= 12:
                yield "milestones", f"milestone {m.name!r} is due in month {m.due_month}"
        if ind.target is not None and ind.target != len(ind.milestones):
            yield "target", f"target {ind.target} is not the number of milestones"
    elif ind.milestones:
        yield "milestones", "only a milestone indicator takes milestones"
    if ind.lifecycle == "simplified" and ind.reason not in SIMPLIFICATION_REASONS:
        yield (
            "reason",
            f"a simplified indicator needs a reason ({', '.join(SIMPLIFICATION_REASONS)})",
        )
    if ind.lifecycle == "merged" and not ind.merged_into:
        yield "merged_into", "a merged indicator must name the indicator it was merged into"
    if ind.lifecycle != "merged" and ind.merged_into:
        yield "merged_into", "only a merged indicator names merged_into"
    if ind.lifecycle == "adapted" and not ind.adapted_from:
        yield "adapted_from", "an adapted indicator must name the indicator it adapts"
    if ind.lifecycle != "adapted" and ind.adapted_from:
        yield "adapted_from", "only an adapted indicator names adapted_from"
    if not ind.categories:
        yield "categories", "an indicator applies to at least one category"


def check_catalog(catalog: Catalog) -> list[CatalogProblem]:
    """Cross-row checks: duplicates, references between sheets, lineage."""
    problems: list[CatalogProblem] = []

    def add(loc: Loc | None, column: str, message: str) -> None:
        assert loc is not None
        problems.append(CatalogProblem(loc.at(column), message))

    years = {y.year for y in catalog.years}
    for year, n in Counter(y.year for y in catalog.years).items():
        if n > 1:
            for y in catalog.years:
                if y.year == year:
                    add(y.loc, "year", f"year {year} is listed {n} times")
    for code, n in Counter(u.code for u in catalog.units).items():
        if n > 1:
            for u in catalog.units:
                if u.code == code:
                    add(u.loc, "code", f"duplicate unit code {code!r}")
    items: dict[tuple[int, str], ItemRow] = {}
    for item in catalog.items:
        if item.year not in years:
            add(item.loc, "year", f"year {item.year} is not in sheet years")
        if (item.year, item.code) in items:
            add(item.loc, "code", f"duplicate item code {item.code!r} in {item.year}")
        items[(item.year, item.code)] = item
    indicators: dict[tuple[int, str], IndicatorRow] = {}
    for ind in catalog.indicators:
        if ind.year not in years:
            add(ind.loc, "year", f"year {ind.year} is not in sheet years")
        if (ind.year, ind.code) in indicators:
            add(ind.loc, "code", f"duplicate indicator code {ind.code!r} in {ind.year}")
        indicators[(ind.year, ind.code)] = ind
    for ind in catalog.indicators:
        owner = items.get((ind.year, ind.item))
        if owner is None:
            add(ind.loc, "item", f"item {ind.item!r} does not exist in {ind.year}")
        elif not owner.counts and ind.lifecycle in ("active", "adapted"):
            add(
                ind.loc,
                "item",
                f"item {ind.item!r} is {owner.status}, not approved or filed: "
                "its indicators cannot be assessed",
            )
        if ind.merged_into:
            target = indicators.get((ind.year, ind.merged_into))
            if target is None:
                add(ind.loc, "merged_into", f"indicator {ind.merged_into!r} does not exist")
            elif target.code == ind.code:
                add(ind.loc, "merged_into", "an indicator cannot be merged into itself")
            elif target.lifecycle not in ("active", "adapted"):
                add(
                    ind.loc,
                    "merged_into",
                    f"indicator {ind.merged_into!r} is {target.lifecycle}, not in use",
                )
        if ind.adapted_from:
            source = indicators.get((ind.year, ind.adapted_from))
            if source is None:
                add(ind.loc, "adapted_from", f"indicator {ind.adapted_from!r} does not exist")
            elif source.code == ind.code:
                add(ind.loc, "adapted_from", "an indicator cannot adapt itself")
            elif (overlap := set(source.categories) & set(ind.categories)) and (
                source.lifecycle in ("active", "adapted")
            ):
                add(
                    ind.loc,
                    "categories",
                    f"{ind.code!r} and the indicator it adapts both apply to "
                    f"{', '.join(sorted(overlap))}",
                )
    return problems
