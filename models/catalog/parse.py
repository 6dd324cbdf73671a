"""Parsing a raw catalog (cells with their locations) into a checked ``Catalog``.

``parse_catalog`` converts every cell (``_Row.get`` with a converter per column),
collects every problem with its location, then runs the catalog-wide checks
(``schema.check_catalog``) and the content limits (``content.check_limits``): a
catalog with any problem raises ``CatalogError`` listing them all.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from models.catalog.content import check_limits
from models.catalog.limits import MAX_CELL_CHARS
from models.catalog.schema import (
    CODE_PATTERN,
    FALSE_WORDS,
    REQUIRED,
    SHEETS,
    TRUE_WORDS,
    Catalog,
    CatalogError,
    CatalogProblem,
    IndicatorRow,
    ItemRow,
    Loc,
    Milestone,
    RawCatalog,
    RawRow,
    UnitRow,
    YearRow,
    check_catalog,
    indicator_shape_problems,
)
from models.catalog.vocabulary import (
    CATEGORIES_BY_KIND,
    CATEGORY_LABELS,
    ITEM_STATUS_LABELS,
    UNIT_KIND_LABELS,
)
from models.rules import YearRules

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
    if kind and kind not in UNIT_KIND_LABELS:
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
    for column, message in indicator_shape_problems(indicator):
        if column not in r.failed:
            r.fail(column, message)
    # Rows with problems are kept so that other rows' references to them are not
    # reported as missing; the file is refused anyway.
    return indicator if indicator.code else None
