"""Writing the office's exports to files: JSON (UTF-8) or XLSX (one sheet per table)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

FORMATS = (".json", ".xlsx")


def export_format(path: Path) -> str:
    """``.json`` or ``.xlsx`` from the file name; anything else is refused (in Chinese)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"不支持的文件格式“{path.suffix or '（无扩展名）'}”：请使用 .xlsx 或 .json。"
        )
    return suffix


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_xlsx(path: Path, sheets: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """One worksheet per table: a bold header row, then the rows (an empty table: header only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    first = True
    for title, rows in sheets.items():
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        sheet.title = title[:31]
        header = list(rows[0]) if rows else ["（无数据）"]
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_cell(row.get(h)) for h in header])
        for index, name in enumerate(header, start=1):
            width = max([len(str(name)), *(len(str(r.get(name, ""))) for r in rows)])
            sheet.column_dimensions[sheet.cell(1, index).column_letter].width = min(
                60, max(10, width * 2)
            )
    workbook.save(path)


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return str(value)


def write_export(
    path: Path, payload: Any, sheets: Mapping[str, Sequence[Mapping[str, Any]]]
) -> str:
    """Write ``payload`` (JSON) or ``sheets`` (XLSX) as the file name says; returns the format."""
    fmt = export_format(path)
    if fmt == ".json":
        write_json(path, payload)
    else:
        write_xlsx(path, sheets)
    return fmt
