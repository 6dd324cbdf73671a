"""The one place the project writes XLSX workbooks (catalog, share, on-site plan, results).

Every sheet is a table: a bold header row (frozen, with an autofilter) and one row
per record. Cell values are written by type, never as formulas:

- text: formula-like text (starting with ``= + - @``, tab or CR) is prefixed with
  a single quote (``models.cell_text``), characters XML cannot hold are replaced by
  ``\ufffd``, text beyond Excel's 32,767 characters is cut with ``…``, and the cell
  is always a text cell;
- numbers (int, float, Decimal) are numeric cells; a Decimal is shown with two
  places (``0.00``) unless the sheet names another format for its column (e.g.
  ``PERCENT`` for a ratio). A column whose header names a ratio (完成率, 完成度,
  占比, …率) is shown as a percentage by default (``column_format``), so every export
  built from plain ``{title: rows}`` tables shows completion as ``87.5%``;
- an aware datetime is written as Beijing time (Asia/Shanghai), a naive Excel
  datetime shown ``yyyy-mm-dd hh:mm``; a date as ``yyyy-mm-dd``; a naive datetime is
  refused (the project never guesses a zone);
- a bool is 是/否, a list or tuple is joined with 、, a mapping is JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from models.cell_text import escape_cell_text
from models.rules import SHANGHAI

SCORE = "0.00"
PERCENT = "0.0%"
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm"
EMPTY_HEADER = "（无数据）"
MAX_TEXT = 32_767  # Excel's limit for the text of one cell
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
TITLE_ILLEGAL = re.compile(r"[\[\]:*?/\\]")
PERCENT_HEADERS = ("完成率", "完成度", "占比", "比例", "比率")
PERCENT_SUFFIXES = ("率", "%", "％")
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


@dataclass(frozen=True)
class Sheet:
    """One table of a workbook.

    ``columns`` are the keys read from each row (default: every key of the rows, in
    first-seen order); ``headers`` the header text per column (default: the key);
    ``formats`` a number format per column; ``widths`` a column width per column.
    """

    title: str
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    formats: Mapping[str, str] = field(default_factory=dict)
    widths: Mapping[str, float] = field(default_factory=dict)

    def keys(self) -> list[str]:
        if self.columns is not None:
            return list(self.columns)
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)


def write_workbook(path: Path, sheets: Sequence[Sheet]) -> None:
    """Write ``sheets`` (in order) to ``path``; the folder is created if need be."""
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    titles: set[str] = set()
    for sheet in sheets:
        ws = workbook.create_sheet(_title(sheet.title, titles))
        _fill(ws, sheet)
    if not sheets:
        _fill(workbook.create_sheet("Sheet1"), Sheet("Sheet1", []))
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)


def tables(sheets: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Sheet]:
    """Plain ``{title: rows}`` tables (the exports' ``sheets``) as ``Sheet``s."""
    return [Sheet(title, rows) for title, rows in sheets.items()]


def column_format(header: str) -> str | None:
    """The default number format of a column from its header: a ratio is a percentage."""
    name = header.strip()
    if any(word in name for word in PERCENT_HEADERS) or name.endswith(PERCENT_SUFFIXES):
        return PERCENT
    return None


def _title(title: str, used: set[str]) -> str:
    base = TITLE_ILLEGAL.sub("_", ILLEGAL.sub("", title)).strip("'")[:31] or "Sheet"
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base[: 31 - len(str(n)) - 1]}_{n}"
    used.add(name.lower())
    return name


def _fill(ws: Worksheet, sheet: Sheet) -> None:
    keys = sheet.keys()
    header = [sheet.headers.get(k, k) for k in keys] if keys else [EMPTY_HEADER]
    for index, text in enumerate(header, start=1):
        cell = ws.cell(row=1, column=index)
        _set(cell, text, None)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    widths = [_width(text) for text in header]
    formats = {k: sheet.formats.get(k) or column_format(str(sheet.headers.get(k, k))) for k in keys}
    for number, row in enumerate(sheet.rows, start=2):
        for index, key in enumerate(keys, start=1):
            shown = _set(ws.cell(row=number, column=index), row.get(key), formats[key])
            widths[index - 1] = max(widths[index - 1], _width(shown))
    for index, key in enumerate(keys or [EMPTY_HEADER], start=1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = sheet.widths.get(
            key, min(60, max(10, widths[index - 1]))
        )
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(1, len(sheet.rows) + 1)}"


def _set(cell: Any, value: Any, number_format: str | None) -> str:
    """Write ``value`` to ``cell`` (never as a formula); returns its text for the width."""
    written, default_format = cell_value(value)
    cell.value = written
    if isinstance(written, str):
        cell.data_type = "s"  # openpyxl reads a str starting with "=" as a formula
        if "\n" in written:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    fmt = number_format if written is not None and number_format else default_format
    if fmt and not isinstance(written, str):
        cell.number_format = fmt
    return "" if written is None else str(written).split("\n")[0]


def cell_value(value: Any) -> tuple[Any, str | None]:
    """What a cell holds for ``value`` and its default number format (see the module doc)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return ("是" if value else "否"), None
    if isinstance(value, int):
        return value, None
    if isinstance(value, float | Decimal):
        if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
            return safe_text(str(value)), None
        return value, (SCORE if isinstance(value, Decimal) else None)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} in an export: pass an aware datetime")
        local = value.astimezone(SHANGHAI)
        return local.replace(tzinfo=None, microsecond=0), DATETIME
    if isinstance(value, date):
        return value, DATE
    if isinstance(value, str):
        return safe_text(value), None
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return safe_text("、".join(_plain(v) for v in items)), None
    if isinstance(value, Mapping):
        return safe_text(json.dumps(value, ensure_ascii=False, default=str)), None
    return safe_text(str(value)), None


def _plain(value: Any) -> str:
    if isinstance(value, datetime | date):
        written, _ = cell_value(value)
        return f"{written:%Y-%m-%d %H:%M}" if isinstance(value, datetime) else value.isoformat()
    return str(value)


def safe_text(text: str) -> str:
    """Text as written to a cell: no character XML cannot hold, at most Excel's length,
    and formula-like text neutralised with a leading quote."""
    clean = ILLEGAL.sub("\ufffd", text)
    escaped = escape_cell_text(clean)
    if len(escaped) > MAX_TEXT:
        escaped = escaped[: MAX_TEXT - 1] + "…"
    return escaped


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text) + 2
