"""Reading the catalog file: XLSX (the office's spreadsheet) and YAML.

The layout is documented in ``models/catalog/CATALOG.md`` next to ``template.xlsx``.
Writing it (export, the demo catalog, the template) is ``tasks.files.catalog_write``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from models.catalog.limits import (
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_SHEETS,
    MAX_TEXT_CHARS,
    MAX_YAML_BYTES,
)
from models.catalog.parse import parse_catalog
from models.catalog.schema import (
    COLUMNS,
    SHEETS,
    Catalog,
    CatalogError,
    CatalogProblem,
    Loc,
    RawCatalog,
    RawRow,
)
from tasks.files.catalog_intake import (
    check_archive,
    check_size,
    decode_yaml,
    load_yaml,
    non_scalar,
    refuse,
    scan_sheet,
    xlsx_value,
)


def read_catalog(path: Path) -> Catalog:
    """Read and check a catalog file (.xlsx, .yaml or .yml); raise ``CatalogError``."""
    return parse_catalog(read_raw(path))


def read_raw(path: Path) -> RawCatalog:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(path)
    if suffix in (".yaml", ".yml"):
        return read_yaml(path)
    loc = Loc(path.name, "-", 0)
    raise CatalogError([CatalogProblem(loc, f"unknown file type {suffix!r}: use .xlsx or .yaml")])


def _header_key(cell: Any) -> str:
    """Header cells are ``key`` or ``中文 key``; the last word is the key."""
    text = "" if cell is None else str(cell).strip()
    return text.split()[-1] if text else ""


def read_xlsx(path: Path) -> RawCatalog:
    """Read an XLSX catalog within the limits of ``models.catalog.limits``.

    Formula and error cells are refused with their location; a text cell the export
    escaped (``'`` before = + - @ TAB CR) is read back without the quote.
    """
    name = path.name
    check_size(path, MAX_FILE_BYTES)
    check_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # a corrupt workbook can fail anywhere inside openpyxl
        raise refuse(
            name, f"不是可读取的 XLSX 文件（{type(exc).__name__}），请用 Excel 另存为 .xlsx"
        ) from None
    try:
        return _read_workbook(path, workbook)
    finally:
        workbook.close()


def _read_workbook(path: Path, workbook: Any) -> RawCatalog:
    name = path.name
    if len(workbook.sheetnames) > MAX_SHEETS:
        count = len(workbook.sheetnames)
        raise refuse(name, f"工作表过多：{count} 个，最多 {MAX_SHEETS} 个")
    problems: list[CatalogProblem] = []
    sheets: dict[str, list[RawRow]] = {}
    chars = [0]  # text read so far, across sheets
    for sheet in SHEETS:
        if sheet not in workbook.sheetnames:
            if sheet != "rules":
                problems.append(CatalogProblem(Loc(name, sheet, 0), "sheet is missing"))
            continue
        worksheet = workbook[sheet]
        try:
            member = getattr(worksheet, "_worksheet_path", None)
            if member is None:
                raise refuse(name, "不是普通工作表（可能是图表），无法读取", sheet)
            scan_sheet(name, sheet, path, member)
            sheets[sheet] = _read_sheet(name, sheet, worksheet, problems, chars)
        except CatalogError as error:
            problems.extend(error.problems)
        except Exception as exc:  # a corrupt sheet can fail anywhere inside openpyxl
            message = f"工作表已损坏，无法读取（{type(exc).__name__}）"
            problems.append(CatalogProblem(Loc(name, sheet, 0), message))
    return RawCatalog(name, sheets, problems)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_sheet(
    name: str, sheet: str, worksheet: Any, problems: list[CatalogProblem], chars: list[int]
) -> list[RawRow]:
    rows = worksheet.iter_rows(max_row=MAX_ROWS + 1, max_col=MAX_COLUMNS)
    header = [_header_key(xlsx_value(cell)[0]) for cell in next(rows, ())]
    for column in COLUMNS[sheet]:
        if column not in header:
            loc = Loc(name, sheet, 1, column)
            problems.append(CatalogProblem(loc, "column is missing from the header row"))
    for index, column in enumerate(header):
        if column and column not in COLUMNS[sheet]:
            loc = Loc(name, sheet, 1, column[:40])
            problems.append(CatalogProblem(loc, f"unknown column (cell {index + 1})"))
    out: list[RawRow] = []
    for number, cells in enumerate(rows, start=2):
        values: dict[str, Any] = {}
        refused: set[str] = set()
        for index, (column, cell) in enumerate(zip(header, cells, strict=False)):
            if column not in COLUMNS[sheet]:
                continue
            value, problem = xlsx_value(cell)
            if isinstance(value, str):
                chars[0] += len(value)
                if chars[0] > MAX_TEXT_CHARS:
                    message = f"文字总量超过上限（{MAX_TEXT_CHARS} 个字符）"
                    raise refuse(name, message, sheet, number)
            if problem is not None:
                loc = Loc(name, sheet, number, column, get_column_letter(index + 1))
                problems.append(CatalogProblem(loc, problem))
                refused.add(column)
            values[column] = value
        if not refused and all(_blank(v) for v in values.values()):
            continue
        out.append(RawRow(Loc(name, sheet, number), values, frozenset(refused)))
    return out


_LIST_COLUMNS = frozenset({"channels", "plan", "categories", "milestones", "value"})


def read_yaml(path: Path) -> RawCatalog:
    """Read a YAML catalog: UTF-8, no anchors or aliases, within ``models.catalog.limits``."""
    name = path.name
    check_size(path, MAX_YAML_BYTES)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise refuse(name, f"无法读取文件：{exc.strerror or exc}") from None
    data = load_yaml(name, decode_yaml(name, content))
    del content
    if not isinstance(data, Mapping):
        loc = Loc(name, "-", 0)
        raise CatalogError([CatalogProblem(loc, "the top level must be a mapping of sections")])
    problems: list[CatalogProblem] = []
    sheets: dict[str, list[RawRow]] = {}
    for section in data:
        if section not in SHEETS:
            loc = Loc(name, str(section)[:40], 0, yaml=True)
            problems.append(CatalogProblem(loc, f"unknown section (use {', '.join(SHEETS)})"))
    for sheet in SHEETS:
        entries = data.get(sheet) or []
        if not isinstance(entries, list):
            problems.append(CatalogProblem(Loc(name, sheet, 0, yaml=True), "must be a list"))
            continue
        if len(entries) > MAX_ROWS:
            loc = Loc(name, sheet, MAX_ROWS + 1, yaml=True)
            problems.append(CatalogProblem(loc, f"条目过多：{len(entries)} 条，最多 {MAX_ROWS} 条"))
            continue
        out: list[RawRow] = []
        for number, entry in enumerate(entries, start=1):
            loc = Loc(name, sheet, number, yaml=True)
            if not isinstance(entry, Mapping):
                problems.append(CatalogProblem(loc, "each entry must be a mapping"))
                continue
            refused: set[str] = set()
            for key, value in entry.items():
                if key not in COLUMNS[sheet]:
                    problems.append(CatalogProblem(loc.at(str(key)[:40]), "unknown field"))
                elif key not in _LIST_COLUMNS and non_scalar(value):
                    message = "应填写单个值，不能是列表或映射"
                    problems.append(CatalogProblem(loc.at(key), message))
                    refused.add(key)
            cells = {k: v for k, v in entry.items() if k in COLUMNS[sheet]}
            out.append(RawRow(loc, cells, frozenset(refused)))
        sheets[sheet] = out
    return RawCatalog(name, sheets, problems)
