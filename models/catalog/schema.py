"""The catalog as plain data, parsed from sheet rows and checked as a whole.

Readers (``models.catalog.files``) turn an XLSX or YAML file into ``RawCatalog``:
rows of cells with their locations. ``parse_catalog`` turns that into a ``Catalog``
and every problem found, each naming file, sheet, row and column. Nothing here
touches a database.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from models.catalog.limits import MAX_CELL_CHARS, MAX_ECHO_CHARS, MAX_REPORTED_PROBLEMS
from models.catalog.vocabulary import (
    CATEGORIES_BY_KIND,
    CATEGORY_LABELS,
    COUNTING_ITEM_STATUSES,
    ITEM_STATUS_LABELS,
    KIND_LABELS,
    LIFECYCLE_LABELS,
    SIMPLIFICATION_REASONS,
)
from models.rules import YearRules

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

T = TypeVar("T")


class _CellError(ValueError):
    pass


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise _CellError(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    raise _CellError(f"{text!r} is not a whole number")


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _CellError(f"{value!r} is not a number")
    text = _text(value).replace(",", "")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float):
        number = Decimal(str(value))
    else:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _CellError(f"{text[:40]!r} is not a number") from None
    if not number.is_finite():
        raise _CellError(f"{text[:40]!r} is not a number")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise _CellError(f"{text!r} is not yes/no (use true/false or 是/否)")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _CellError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _list(value: Any, separators: str = r"[,，;；\s]+") -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(_text(v) for v in value if _text(v))
    return tuple(part for part in re.split(separators, _text(value)) if part)


def _split(value: Any) -> tuple[str, ...]:
    return _list(value)


def _plan(value: Any) -> tuple[Decimal, ...]:
    parts: Sequence[Any] = value if isinstance(value, list | tuple) else _list(value)
    return tuple(_decimal(p) for p in parts)


def _milestones(value: Any) -> tuple[Milestone, ...]:
    if isinstance(value, list | tuple):
        out = []
        for entry in value:
            if not isinstance(entry, Mapping) or "name" not in entry or "due_month" not in entry:
                raise _CellError(f"milestone {entry!r} needs name and due_month")
            out.append(Milestone(_text(entry["name"]), _int(entry["due_month"])))
        return tuple(out)
    out = []
    for part in _list(value, r"[;；\n]+"):
        name, sep, month = part.rpartition("@")
        if not sep or not name.strip():
            raise _CellError(f"milestone {part!r} is not written as name@month")
        out.append(Milestone(name.strip(), _int(month.strip())))
    return tuple(out)


class _Row:
    """Reads typed cells of one raw row, collecting problems instead of raising."""

    def __init__(self, row: RawRow, problems: list[CatalogProblem]) -> None:
        self.row = row
        self.problems = problems
        self.ok = True
        self.failed: set[str] = set()

    def get(self, column: str, convert: Callable[[Any], T], default: T) -> T:
        raw = self.row.cells.get(column)
        if column in self.row.refused:
            self.ok = False
            self.failed.add(column)
            return default
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if column in REQUIRED[self.row.loc.sheet]:
                self.fail(column, "is required but empty")
            return default
        if isinstance(raw, str) and len(raw) > MAX_CELL_CHARS:
            self.fail(column, f"文字过长：{len(raw)} 个字符，一个单元格最多 {MAX_CELL_CHARS} 个")
            return default
        try:
            return convert(raw)
        except _CellError as exc:
            self.fail(column, str(exc))
            return default

    def fail(self, column: str | None, message: str) -> None:
        self.ok = False
        if column:
            self.failed.add(column)
        loc = self.row.loc.at(column) if column else self.row.loc
        self.problems.append(CatalogProblem(loc, message))


# ----------------------------------------------------------------------------- parse


def parse_catalog(raw: RawCatalog) -> Catalog:
    """Turn raw rows into a checked ``Catalog`` or raise ``CatalogError`` with every problem."""
    problems: list[CatalogProblem] = list(raw.problems)
    rows = {sheet: raw.sheets.get(sheet, ()) for sheet in SHEETS}

    rules_by_year: dict[int, dict[str, tuple[Any, Loc]]] = {}
    for raw_row in rows["rules"]:
        r = _Row(raw_row, problems)
        year = r.get("year", _int, 0)
        key = r.get("key", _text, "")
        value = raw_row.cells.get("value")
        if r.ok:
            if key in rules_by_year.setdefault(year, {}):
                r.fail("key", f"rule {key!r} of year {year} is given twice")
            rules_by_year[year][key] = (value, raw_row.loc)

    years = []
    for raw_row in rows["years"]:
        r = _Row(raw_row, problems)
        year = r.get("year", _int, 0)
        name = r.get("name", _text, "")
        if r.ok and not 2000 <= year <= 2100:
            r.fail("year", f"{year} is not a plausible year")
        if r.ok:
            rules = _year_rules(year, rules_by_year.pop(year, {}), problems)
            years.append(YearRow(year, name, rules, raw_row.loc))
    for year, entries in rules_by_year.items():
        for _key, (_value, loc) in entries.items():
            problems.append(CatalogProblem(loc.at("year"), f"year {year} is not in sheet years"))

    units = [u for u in (_unit(row, problems) for row in rows["units"]) if u]
    items = [i for i in (_item(row, problems) for row in rows["items"]) if i]
    indicators = [i for i in (_indicator(row, problems) for row in rows["indicators"]) if i]

    catalog = Catalog(tuple(years), tuple(units), tuple(items), tuple(indicators))
    problems.extend(check_catalog(catalog))
    from models.catalog.content import check_limits  # it builds on this module's types

    problems.extend(check_limits(catalog, raw.file))
    if problems:
        raise CatalogError(problems)
    return catalog


def _year_rules(
    year: int, entries: Mapping[str, tuple[Any, Loc]], problems: list[CatalogProblem]
) -> dict[str, Any]:
    defaults = YearRules().to_dict()
    merged: dict[str, Any] = dict(defaults)
    for key, (value, loc) in entries.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults))
            problems.append(CatalogProblem(loc.at("key"), f"unknown rule {key!r} (known: {known})"))
            continue
        try:
            merged[key] = _rule_value(defaults[key], value)
        except (_CellError, ValueError) as exc:
            problems.append(CatalogProblem(loc.at("value"), f"rule {key!r}: {exc}"))
    try:
        return YearRules.from_dict(merged).to_dict()
    except (ValueError, TypeError, KeyError) as exc:
        if entries:
            first = next(iter(entries.values()))[1]
            problems.append(CatalogProblem(first.at("value"), f"rules of {year}: {exc}"))
        return merged


def _rule_value(default: Any, value: Any) -> Any:
    """Convert a rule cell to the type of its default."""
    if isinstance(default, bool):
        return _bool(value)
    if isinstance(default, int):
        return _int(value)
    if isinstance(default, str):
        if isinstance(default, str) and isinstance(value, int | float | Decimal):
            return str(_decimal(value))
        return _text(value)
    if isinstance(default, list | dict):
        if isinstance(value, list | dict):
            return value
        try:
            return json.loads(_text(value))
        except json.JSONDecodeError:
            raise _CellError(f"{value!r} is not valid JSON") from None
    return value


def _unit(raw: RawRow, problems: list[CatalogProblem]) -> UnitRow | None:
    r = _Row(raw, problems)
    code = r.get("code", _text, "")
    if code and not CODE_PATTERN.match(code):
        r.fail("code", f"{code!r} is not a valid code (letters, digits, - _ .)")
    kind = r.get("kind", _text, "")
    if kind and kind not in KIND_LABELS:
        r.fail("kind", f"unknown kind {kind!r} (use county or department)")
    category = r.get("category", _text, "")
    if category and category not in CATEGORY_LABELS:
        r.fail("category", f"unknown category {category!r}")
    elif category and kind in CATEGORIES_BY_KIND and category not in CATEGORIES_BY_KIND[kind]:
        r.fail("category", f"category {category!r} is not a category of kind {kind!r}")
    channels: tuple[str, ...] = r.get("channels", _split, ())
    for channel in channels:
        if "://" not in channel:
            r.fail("channels", f"channel {_redact(channel)!r} is not an Apprise URL")
    unit = UnitRow(
        code=code,
        name=r.get("name", _text, ""),
        kind=kind,
        category=category,
        on_platform=r.get("on_platform", _bool, False),
        onboarded_on=r.get("onboarded_on", _date, None),
        channels=channels,
        loc=raw.loc,
    )
    return unit if unit.code else None


def _redact(url: str) -> str:
    return url.split("://", 1)[0] + "://…" if "://" in url else url[:8] + "…"


def _item(raw: RawRow, problems: list[CatalogProblem]) -> ItemRow | None:
    r = _Row(raw, problems)
    status = r.get("status", _text, "")
    if status and status not in ITEM_STATUS_LABELS:
        r.fail("status", f"unknown status {status!r} (use {', '.join(ITEM_STATUS_LABELS)})")
    item = ItemRow(
        year=r.get("year", _int, 0),
        code=r.get("code", _text, ""),
        name=r.get("name", _text, ""),
        status=status,
        key=r.get("key", _bool, False),
        decided_by=r.get("decided_by", _text, ""),
        decided_on=r.get("decided_on", _date, None),
        document_ref=r.get("document_ref", _text, ""),
        note=r.get("note", _text, ""),
        loc=raw.loc,
    )
    if item.code and not CODE_PATTERN.match(item.code):
        r.fail("code", f"{item.code!r} is not a valid code")
    if item.counts:
        for column in ("decided_by", "decided_on", "document_ref"):
            if not getattr(item, column):
                r.fail(column, f"an item {status} needs who decided, when and the document")
    return item if item.code else None


def _indicator(raw: RawRow, problems: list[CatalogProblem]) -> IndicatorRow | None:
    r = _Row(raw, problems)
    direction = r.get("direction", _text, "")
    lifecycle = r.get("lifecycle", _text, "active")
    indicator = IndicatorRow(
        year=r.get("year", _int, 0),
        code=r.get("code", _text, ""),
        item=r.get("item", _text, ""),
        name=r.get("name", _text, ""),
        weight=r.get("weight", _decimal, Decimal(0)),
        direction=direction,
        categories=r.get("categories", _split, ()),
        target=r.get("target", _decimal, None),
        baseline=r.get("baseline", _decimal, None),
        unit_of_measure=r.get("unit_of_measure", _text, ""),
        plan=r.get("plan", _plan, None),
        milestones=r.get("milestones", _milestones, ()),
        source_field=r.get("source_field", _text, ""),
        lifecycle=lifecycle,
        reason=r.get("reason", _text, ""),
        merged_into=r.get("merged_into", _text, "") or None,
        adapted_from=r.get("adapted_from", _text, "") or None,
        loc=raw.loc,
    )
    if indicator.code and not CODE_PATTERN.match(indicator.code):
        r.fail("code", f"{indicator.code!r} is not a valid code")
    for column, message in _indicator_shape_problems(indicator):
        if column not in r.failed:
            r.fail(column, message)
    # Rows with problems are kept so that other rows' references to them are not
    # reported as missing; the file is refused anyway.
    return indicator if indicator.code else None


def _indicator_shape_problems(ind: IndicatorRow) -> Iterable[tuple[str, str]]:
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
