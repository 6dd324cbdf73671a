"""Reading the catalog file: XLSX (the office's spreadsheet) and YAML.

The layout is documented in ``models/catalog/CATALOG.md`` next to ``template.xlsx``.
Writing it (export, the demo catalog, the template) is ``tasks.catalog_files``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from models.catalog.schema import (
    COLUMNS,
    SHEETS,
    Catalog,
    CatalogError,
    CatalogProblem,
    Loc,
    RawCatalog,
    RawRow,
    parse_catalog,
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
    name = path.name
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        loc = Loc(name, "-", 0)
        raise CatalogError([CatalogProblem(loc, f"not a readable XLSX file: {exc}")]) from None
    problems: list[CatalogProblem] = []
    sheets: dict[str, list[RawRow]] = {}
    try:
        for sheet in SHEETS:
            if sheet not in workbook.sheetnames:
                if sheet != "rules":
                    problems.append(CatalogProblem(Loc(name, sheet, 0), "sheet is missing"))
                continue
            rows = workbook[sheet].iter_rows(values_only=True)
            header = [_header_key(c) for c in next(rows, ())]
            for column in COLUMNS[sheet]:
                if column not in header:
                    loc = Loc(name, sheet, 1, column)
                    problems.append(CatalogProblem(loc, "column is missing from the header row"))
            for index, column in enumerate(header):
                if column and column not in COLUMNS[sheet]:
                    loc = Loc(name, sheet, 1, column)
                    problems.append(CatalogProblem(loc, f"unknown column (cell {index + 1})"))
            out: list[RawRow] = []
            for number, values in enumerate(rows, start=2):
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                cells = {
                    column: value
                    for column, value in zip(header, values, strict=False)
                    if column in COLUMNS[sheet]
                }
                out.append(RawRow(Loc(name, sheet, number), cells))
            sheets[sheet] = out
    finally:
        workbook.close()
    return RawCatalog(name, sheets, problems)


def read_yaml(path: Path) -> RawCatalog:
    name = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(
            [CatalogProblem(Loc(name, "-", 0), f"not readable YAML: {exc}")]
        ) from None
    if not isinstance(data, Mapping):
        loc = Loc(name, "-", 0)
        raise CatalogError([CatalogProblem(loc, "the top level must be a mapping of sections")])
    problems: list[CatalogProblem] = []
    sheets: dict[str, list[RawRow]] = {}
    for section in data:
        if section not in SHEETS:
            loc = Loc(name, str(section), 0, yaml=True)
            problems.append(CatalogProblem(loc, f"unknown section (use {', '.join(SHEETS)})"))
    for sheet in SHEETS:
        entries = data.get(sheet) or []
        if not isinstance(entries, list):
            problems.append(CatalogProblem(Loc(name, sheet, 0, yaml=True), "must be a list"))
            continue
        out: list[RawRow] = []
        for number, entry in enumerate(entries, start=1):
            loc = Loc(name, sheet, number, yaml=True)
            if not isinstance(entry, Mapping):
                problems.append(CatalogProblem(loc, "each entry must be a mapping"))
                continue
            for key in entry:
                if key not in COLUMNS[sheet]:
                    problems.append(CatalogProblem(loc.at(str(key)), "unknown field"))
            out.append(RawRow(loc, {k: v for k, v in entry.items() if k in COLUMNS[sheet]}))
        sheets[sheet] = out
    return RawCatalog(name, sheets, problems)
